"""Helpers for pages: show a service's ValidationError on the form that sent the data."""

from django.core.exceptions import ValidationError


def show_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)
