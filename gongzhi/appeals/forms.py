"""Forms for the appeal pages; meaning is checked in services, these only parse."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Appeal, Category


class SubmitForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=Appeal.Kind.choices, initial=Appeal.Kind.HELP)
    category = forms.ModelChoiceField(label=_("Category"), queryset=Category.objects.filter(active=True))
    description = forms.CharField(label=_("What is the problem?"), max_length=2000,
                                  widget=forms.Textarea(attrs={"rows": 4}))
    urgency = forms.ChoiceField(label=_("Urgency"), choices=Appeal.Urgency.choices, initial=Appeal.Urgency.NORMAL)
    address = forms.CharField(label=_("Address"), required=False, max_length=200,
                              help_text=_("Leave empty to use your household's address."))
    latitude = forms.FloatField(label=_("Latitude"), required=False, min_value=-90, max_value=90,
                                widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}))
    longitude = forms.FloatField(label=_("Longitude"), required=False, min_value=-180, max_value=180,
                                 widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}))
    photo = forms.FileField(label=_("Photo (optional)"), required=False,
                            widget=forms.ClearableFileInput(attrs={"accept": "image/*"}))
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=80)


class IntakeForm(SubmitForm):
    """Staff recording an appeal taken by phone, on a visit or found in the grid."""
    source = forms.ChoiceField(label=_("Source"), choices=[c for c in Appeal.Source.choices if c[0] != "api"])
    contact_name = forms.CharField(label=_("Contact name"), required=False, max_length=50)
    contact_phone = forms.CharField(label=_("Contact phone"), required=False, max_length=20,
                                    widget=forms.TextInput(attrs={"inputmode": "tel"}))
