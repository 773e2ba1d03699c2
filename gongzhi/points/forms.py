"""Forms for the points pages; they only parse, services decide."""

from django import forms
from django.utils.translation import gettext_lazy as _

from gongzhi.accounts.models import User
from gongzhi.accounts.roles import Role

from .models import Account, Item, PointsRule

DT = {"type": "datetime-local"}


class RuleForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    points = forms.IntegerField(label=_("Points"), min_value=-100000, max_value=100000,
                                help_text=_("Negative for conduct that costs points."))
    award_role = forms.ChoiceField(label=_("Who may award"), choices=Role.choices, initial=Role.COMMUNITY_WORKER)
    evidence_required = forms.BooleanField(label=_("Evidence photo required"), required=False)
    cap = forms.IntegerField(label=_("Times per period"), required=False, min_value=1)
    period = forms.ChoiceField(label=_("Period"), choices=PointsRule.Period.choices, required=False)
    expiry_days = forms.IntegerField(label=_("Points expire after (days)"), required=False, min_value=1)
    convention = forms.CharField(label=_("Convention text"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    convention_url = forms.URLField(label=_("Convention link"), required=False)


class ClaimForm(forms.Form):
    rule = forms.ModelChoiceField(label=_("Rule"), queryset=PointsRule.objects.none())
    description = forms.CharField(label=_("What was done"), widget=forms.Textarea(attrs={"rows": 3}))
    evidence = forms.FileField(label=_("Evidence photo"), required=False,
                               widget=forms.ClearableFileInput(attrs={"accept": "image/*", "capture": "environment"}))

    def __init__(self, *args, rules=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rule"].queryset = rules if rules is not None else PointsRule.objects.none()


class RejectForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=200)


class ReverseForm(forms.Form):
    reason = forms.CharField(label=_("Why is this entry reversed?"), max_length=150)


class ActivityForm(forms.Form):
    title = forms.CharField(label=_("What"), max_length=100)
    location = forms.CharField(label=_("Where"), max_length=200)
    starts_at = forms.DateTimeField(label=_("Starts"), widget=forms.DateTimeInput(attrs=DT))
    ends_at = forms.DateTimeField(label=_("Ends"), widget=forms.DateTimeInput(attrs=DT))
    capacity = forms.IntegerField(label=_("Places"), min_value=1, max_value=10000)
    points_per_hour = forms.IntegerField(label=_("Points per hour"), required=False, min_value=1)
    points_per_activity = forms.IntegerField(label=_("Points for taking part"), required=False, min_value=1,
                                             help_text=_("Set this or points per hour."))
    description = forms.CharField(label=_("Details"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class HoursForm(forms.Form):
    hours = forms.DecimalField(label=_("Hours"), min_value=0.25, max_value=24, decimal_places=2)


class ItemForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    price = forms.IntegerField(label=_("Price in points"), min_value=1)
    stock = forms.IntegerField(label=_("Stock"), min_value=0)
    provider = forms.ChoiceField(label=_("Collected at"), choices=Item.Provider.choices)
    merchant = forms.CharField(label=_("Merchant"), max_length=100, required=False)
    merchant_user = forms.ModelChoiceField(label=_("Merchant's login (user name)"), required=False,
                                           queryset=User.objects.filter(is_active=True), to_field_name="username",
                                           widget=forms.TextInput(attrs={"autocomplete": "off"}),
                                           help_text=_("Optional: this login may hand the item over at the shop."))
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class StockForm(forms.Form):
    stock = forms.IntegerField(label=_("Stock"), min_value=0)


class RedeemForm(forms.Form):
    key = forms.CharField(widget=forms.HiddenInput)
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=100, initial=1)
    # Which of my accounts pays (mine or my household's); the service checks it is mine.
    account = forms.ModelChoiceField(queryset=Account.objects.all(), required=False)


class CounterForm(forms.Form):
    code = forms.CharField(label=_("Collection code"), max_length=12,
                           widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off",
                                                         "autofocus": True}))


class AwardForm(forms.Form):
    """Staff adjust an account: by a rule of the rulebook (its points), or a number of points with a reason."""
    key = forms.CharField(widget=forms.HiddenInput)
    rule = forms.ModelChoiceField(label=_("Rule"), queryset=PointsRule.objects.none(), required=False,
                                  empty_label=_("— no rule: enter points and a reason —"))
    amount = forms.IntegerField(label=_("Points"), required=False, min_value=1, max_value=100000)
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)

    def __init__(self, *args, rules=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rule"].queryset = rules if rules is not None else PointsRule.objects.none()


class PolicyForm(forms.Form):
    household_includes_members = forms.BooleanField(label=_("A household's balance includes its members'"),
                                                    required=False)
    public_leaderboard = forms.BooleanField(label=_("Publish a leaderboard anyone may see"), required=False)


class PeriodForm(forms.Form):
    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("Until (exclusive)"), required=False, widget=forms.DateInput(attrs={"type": "date"}))


class VolunteerForm(forms.Form):
    number = forms.CharField(label=_("Phone or ID number of the volunteer"), max_length=30)
