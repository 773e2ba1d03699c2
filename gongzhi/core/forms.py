"""Helpers for pages: one service call from a form, its ValidationError shown on the form that sent the data."""

from django.contrib import messages
from django.core.exceptions import ValidationError


def show_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def attempt(request, form, action, success):
    """Run one service call; on success flash `success`, on ValidationError show it on the form (or as a message
    when there is no form) instead of a crash page. Returns (the call's result, whether it succeeded)."""
    try:
        result = action()
    except ValidationError as exc:
        if form is not None:
            show_errors(form, exc)
        else:
            messages.error(request, " ".join(exc.messages))
        return None, False
    messages.success(request, success)
    return result, True
