"""Email through Django's mail backend (SMTP in production, locmem in tests)."""

import re
import smtplib

from django import forms
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.utils.html import format_html, format_html_join

from alerts.channels.base import Message, PermanentError, TransientError, as_text

SECRET_FIELDS: tuple[str, ...] = ()
MAX_ADDRESSES = 20
HOW_TO_FIX = (
    "The mail server refused every address of this channel. Correct the addresses, then enable it again."
)


class AddressListField(forms.Field):
    """A list of addresses; accepts a JSON list or text separated by commas, semicolons or lines."""

    widget = forms.Textarea(attrs={"rows": 3})

    def to_python(self, value) -> list[str]:
        if value in (None, ""):
            return []
        if isinstance(value, str):
            value = re.split(r"[\s,;]+", value)
        if not isinstance(value, list | tuple):
            raise ValidationError("Enter email addresses, one a line.", code="invalid")
        addresses = [str(address).strip() for address in value if str(address).strip()]
        return list(dict.fromkeys(addresses))  # drop repeats, keep the order

    def validate(self, value: list[str]) -> None:
        super().validate(value)
        if len(value) > MAX_ADDRESSES:
            raise ValidationError(f"At most {MAX_ADDRESSES} addresses per channel.", code="too_many")
        for address in value:
            try:
                validate_email(address)
            except ValidationError:
                raise ValidationError(f"“{address}” is not an email address.", code="invalid_email") from None

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list | tuple) else value


class ConfigForm(forms.Form):
    addresses = AddressListField(label="Email addresses", help_text="One a line, at most 20.")


def describe(config: dict) -> str:
    addresses = list(config.get("addresses", []))
    if len(addresses) <= 2:
        return ", ".join(addresses) or "no addresses"
    return f"{addresses[0]} and {len(addresses) - 1} more"


def render(message: Message) -> tuple[str, str, str]:
    """(subject, plain text, HTML)."""
    details = format_html_join("", "<tr><th align='left'>{}</th><td>{}</td></tr>", message.details)
    links = format_html_join(
        " · ", "<a href='{}'>View {}</a>", ((url, name) for name, url in message.links.items())
    )
    html = format_html(
        "<h2>{}: {}</h2><p>{}</p><p>{}</p><table>{}</table><p>{}</p>",
        message.label,
        message.title,
        message.where,
        message.summary,
        details,
        links,
    )
    return message.subject, as_text(message), html


def send(config: dict, message: Message) -> None:
    subject, text, html = render(message)
    email = EmailMultiAlternatives(subject, text, to=list(config["addresses"]))
    email.attach_alternative(html, "text/html")
    try:
        email.send()
    except smtplib.SMTPRecipientsRefused as error:
        refused = ", ".join(sorted(error.recipients))
        raise PermanentError(f"the mail server refused every recipient: {refused}") from None
    except (smtplib.SMTPException, OSError) as error:
        raise TransientError(f"could not send the email: {type(error).__name__}: {error}") from None
    return None
