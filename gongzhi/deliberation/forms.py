"""Forms for the deliberation pages; meaning is checked in services, these only parse."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Convention, Meeting


class TopicForm(forms.Form):
    place = forms.ModelChoiceField(label=_("Where"), queryset=None)
    title = forms.CharField(label=_("Title"), max_length=100)
    body = forms.CharField(label=_("What should be discussed"), widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args, places, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["place"].queryset = places


class PaperSignaturesForm(forms.Form):
    households = forms.CharField(label=_("Door numbers on the sheet"), help_text=_("Separated by commas, e.g. 101,102"))
    scan = forms.FileField(label=_("Scanned sheet"))


class MeetingForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=Meeting.Kind.choices)
    title = forms.CharField(label=_("Title"), max_length=100)
    starts_at = forms.DateTimeField(label=_("Starts at"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    location = forms.CharField(label=_("Location"), required=False, max_length=200)
    online_url = forms.URLField(label=_("Online link"), required=False)
    agenda = forms.ModelMultipleChoiceField(label=_("Agenda"), queryset=None, required=False,
                                            widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, topics, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agenda"].queryset = topics


class VoteForm(forms.Form):
    title = forms.CharField(label=_("Question put to the vote"), max_length=100)
    voter_unit = forms.ChoiceField(label=_("Who votes"), choices=[
        ("household", _("One vote per household")), ("person", _("One vote per adult")),
        ("owner", _("Owners (owners' assembly)"))])
    weighting = forms.ChoiceField(label=_("Weight"), choices=[("one", _("One each")), ("area", _("Floor area"))])
    quorum_percent = forms.IntegerField(label=_("Quorum (percent of electorate)"), min_value=0, max_value=100,
                                        initial=0)
    majority = forms.ChoiceField(label=_("Majority"), choices=[
        ("simple", _("More than half")), ("two_thirds", _("At least two thirds")),
        ("three_quarters", _("At least three quarters"))])
    denominator = forms.ChoiceField(label=_("Share of"), choices=[("cast", _("Votes cast")),
                                                                  ("electorate", _("Whole electorate"))])
    owners_assembly = forms.BooleanField(label=_("Owners' assembly rules (Civil Code art. 278)"), required=False)
    major_matter = forms.BooleanField(label=_("Major matter (maintenance funds, rebuilding)"), required=False)
    silent_majority = forms.BooleanField(label=_("Silent majority follows (only if the convention adopted it)"),
                                         required=False)
    secret = forms.BooleanField(label=_("Secret ballot"), required=False)
    topic = forms.ModelChoiceField(label=_("Topic"), queryset=None, required=False)

    def __init__(self, *args, topics, **kwargs):
        super().__init__(*args, **kwargs)
        if topics is None:  # a convention vote: the question is the convention itself
            del self.fields["topic"]
        else:
            self.fields["topic"].queryset = topics

    def rules(self):
        from fractions import Fraction
        d = self.cleaned_data
        return {"voter_unit": d["voter_unit"], "weighting": d["weighting"],
                "quorum": str(Fraction(d["quorum_percent"] or 0, 100)), "majority": d["majority"],
                "denominator": d["denominator"], "owners_assembly": d["owners_assembly"],
                "major_matter": d["major_matter"], "silent_majority": d["silent_majority"]}


class PaperBallotForm(forms.Form):
    door_no = forms.CharField(label=_("Door number"), max_length=30)
    option = forms.ChoiceField(label=_("Choice"), choices=[])
    channel = forms.ChoiceField(label=_("Channel"), choices=[("paper", _("Paper")), ("proxy", _("Proxy"))])
    proxy_name = forms.CharField(label=_("Proxy name"), required=False, max_length=50)
    authorisation = forms.FileField(label=_("Written authorisation (proxy only; PDF or photo)"), required=False)

    def __init__(self, *args, options, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["option"].choices = options


class MinutesForm(forms.Form):
    minutes = forms.CharField(label=_("Minutes"), widget=forms.Textarea(attrs={"rows": 6}))


class ResolutionForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=100)
    text = forms.CharField(label=_("What was resolved"), widget=forms.Textarea(attrs={"rows": 4}))


class RatingForm(forms.Form):
    score = forms.TypedChoiceField(label=_("Score"), coerce=int, choices=[(i, str(i)) for i in range(5, 0, -1)])
    comment = forms.CharField(label=_("Comment"), required=False, max_length=300)


class CommentForm(forms.Form):
    text = forms.CharField(label=_("Your view"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))


class MergeForm(forms.Form):
    into = forms.ModelChoiceField(label=_("Merge into"), queryset=None)
    reason = forms.CharField(label=_("Note (published)"), required=False, max_length=300)

    def __init__(self, *args, topics, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["into"].queryset = topics


class DeclineForm(forms.Form):
    reason = forms.CharField(label=_("Reason for declining (published)"), widget=forms.Textarea(attrs={"rows": 3}))


class InviteForm(forms.Form):
    rule = forms.ChoiceField(label=_("Invite"), choices=[])
    place = forms.ModelChoiceField(label=_("Of"), queryset=None)

    def __init__(self, *args, rules, places, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rule"].choices = list(rules.items())
        self.fields["place"].queryset = places


class DocumentForm(forms.Form):
    title = forms.CharField(label=_("Document title"), max_length=100)
    file = forms.FileField(label=_("File (PDF or photo)"))


class TaskForm(forms.Form):
    title = forms.CharField(label=_("Task"), max_length=100)
    owner = forms.ModelChoiceField(label=_("Responsible login"), queryset=None, required=False)
    owner_name = forms.CharField(label=_("Responsible (person or unit)"), max_length=50, required=False)
    due = forms.DateField(label=_("Due"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, owners, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = owners


class ProgressForm(forms.Form):
    task = forms.ModelChoiceField(label=_("Task"), queryset=None, required=False)
    text = forms.CharField(label=_("Progress"), widget=forms.Textarea(attrs={"rows": 3}))
    done = forms.BooleanField(label=_("This task is done"), required=False)

    def __init__(self, *args, tasks, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["task"].queryset = tasks


class ConventionForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=Convention.Kind.choices)
    title = forms.CharField(label=_("Title"), max_length=100)


class VersionForm(forms.Form):
    text = forms.CharField(label=_("Full text"), widget=forms.Textarea(attrs={"rows": 10}))
    motion_percent = forms.DecimalField(label=_("Motion threshold (percent of households)"), initial=5,
                                        max_digits=5, decimal_places=2)
    motion_clause = forms.CharField(label=_("Clause on the motion threshold"), max_length=30, required=False,
                                    help_text=_("e.g. 第七条"))
    silent_majority = forms.BooleanField(label=_("Silent majority follows (沉默从众)"), required=False)
    silent_majority_clause = forms.CharField(label=_("Clause on silent majority"), max_length=30, required=False,
                                             help_text=_("e.g. 第八条"))


class ReviewForm(forms.Form):
    opinion = forms.CharField(label=_("Legal review opinion"), widget=forms.Textarea(attrs={"rows": 4}))
