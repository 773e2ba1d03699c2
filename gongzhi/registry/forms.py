"""Forms for the register pages; validation of meaning lives in services, these only parse."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Household, Person


class HouseholdForm(forms.Form):
    door_no = forms.CharField(label=_("Room/door number"), max_length=30)
    area_m2 = forms.DecimalField(label=_("Floor area (m²)"), required=False, min_value=1, max_value=100000,
                                 decimal_places=2)
    tenure = forms.ChoiceField(label=_("Tenure"), choices=Household.Tenure.choices)
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class PersonForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=50)
    id_number = forms.CharField(label=_("ID number"), required=False, max_length=18,
                                widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text"}))
    gender = forms.ChoiceField(label=_("Gender"), required=False, choices=[("", "—")] + Person.Gender.choices,
                               help_text=_("Taken from the ID number when there is one."))
    phone = forms.CharField(label=_("Phone"), required=False, max_length=20,
                            widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}))
    relation = forms.ChoiceField(label=_("Relation to head"), choices=Person.Relation.choices)
    ethnicity = forms.CharField(label=_("Ethnicity"), max_length=20, initial="汉族")
    political = forms.ChoiceField(label=_("Political status"), choices=Person.Political.choices)
    tags = forms.CharField(label=_("Special groups"), required=False, max_length=200)
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class VisitForm(forms.Form):
    visited_at = forms.DateTimeField(label=_("Visited at"), required=False,
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                     help_text=_("Leave empty for now."))
    met = forms.CharField(label=_("Who was met"), required=False, max_length=100)
    findings = forms.CharField(label=_("Findings"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    needs = forms.CharField(label=_("Needs raised"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class ImportForm(forms.Form):
    community = forms.ModelChoiceField(label=_("Community or village"), queryset=None)
    file = forms.FileField(label=_("Spreadsheet (.xlsx or .csv)"))

    def __init__(self, *args, communities, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["community"].queryset = communities


class DepartureForm(forms.Form):
    departed = forms.ChoiceField(label=_("Left the register because"), choices=Person.Departure.choices)
    departed_on = forms.DateField(label=_("On"), required=False, widget=forms.DateInput(attrs={"type": "date"}),
                                  help_text=_("Leave empty for today."))


class AnonymiseForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=300,
                             help_text=_("e.g. moved away in 2021, retention period over"))
    confirm = forms.BooleanField(label=_("I understand that this cannot be undone."))
