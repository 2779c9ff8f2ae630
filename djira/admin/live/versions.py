"""Optimistic concurrency for change forms, without a schema change.

A change form carries, in a hidden input, a digest of each field it edits as the row was
when the form was rendered (``name:digest`` pairs). On save, the row as the database holds
it now is digested the same way: a field whose digest differs was saved by someone else
meanwhile, and the form answers with an error naming those fields and their new values
instead of overwriting them. The re-rendered form carries the new digests, so saving again
is the confirmation. Only the form's own fields count: the admin writes nothing else.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib.admin.utils import display_for_field
from django.db.models import Field, ManyToManyField, Model
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst

if TYPE_CHECKING:
    from collections.abc import Iterable

FIELD = "_djira_version"


def model_fields(model: type[Model], names: Iterable[str]) -> list[Field[Any, Any]]:
    """The model fields among a form's field names (a form may add fields of its own)."""
    by_name = {f.name: f for f in model._meta.get_fields() if isinstance(f, Field)}
    return [by_name[n] for n in names if n in by_name and by_name[n].concrete]


def field_value(obj: Model, field: Field[Any, Any]) -> Any:
    if isinstance(field, ManyToManyField):
        if obj.pk is None:
            return []
        return sorted(str(pk) for pk in getattr(obj, field.name).values_list("pk", flat=True))
    return field.value_from_object(obj)


def digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


def version_of(obj: Model, fields: Iterable[Field[Any, Any]]) -> str:
    """``name:digest;...`` over ``fields`` of ``obj``."""
    return ";".join(f"{f.name}:{digest(field_value(obj, f))}" for f in fields)


def parse(version: str) -> dict[str, str]:
    """The digests of a posted version; malformed parts are left out (nothing to compare)."""
    pairs = (part.partition(":") for part in version.split(";") if part)
    return {name: value for name, sep, value in pairs if sep and name and value}


def changed_fields(posted: str, current: str) -> list[str]:
    """Fields whose digest was posted and differs from the row's current one."""
    was, now = parse(posted), parse(current)
    return [name for name, value in now.items() if name in was and was[name] != value]


def describe(obj: Model, field: Field[Any, Any]) -> str:
    """The row's current value of ``field``, as the admin would display it."""
    if isinstance(field, ManyToManyField):
        return ", ".join(str(o) for o in getattr(obj, field.name).all()) or "-"
    if field.is_relation:
        return str(getattr(obj, field.name) or "-")
    return str(display_for_field(field.value_from_object(obj), field, "-"))


class LiveVersionForm(forms.ModelForm):
    """Mixed into the admin's change form: refuse to overwrite fields saved meanwhile."""

    #: The version the form is rendered with next (set by ``clean``).
    djira_version: str | None = None

    def version_fields(self) -> list[Field[Any, Any]]:
        return model_fields(type(self.instance), self.base_fields)

    def clean(self) -> Any:
        # Returned as the form's own clean returned it (None is allowed: Django keeps
        # cleaned_data then).
        cleaned = super().clean()
        posted = self.data.get(FIELD)
        # ``clean`` runs before ``_post_clean`` copies the posted values into the instance:
        # ``self.instance`` is still the row as the change view just read it.
        fields = self.version_fields()
        current = version_of(self.instance, fields)
        if not isinstance(posted, str) or not posted:
            self.djira_version = current
            return cleaned  # a form posted without a version (a script): nothing to compare
        # Re-rendered for another error, the form keeps the version its values came from.
        self.djira_version = posted
        changed = set(changed_fields(posted, current))
        if changed:
            # Shown their values: saving again (with these digests) is the confirmation.
            self.djira_version = current
            self.djira_conflict = [f for f in fields if f.name in changed]
            raise forms.ValidationError(self.conflict_message(), code="djira_conflict")
        return cleaned

    def conflict_message(self) -> str:
        items = format_html_join(
            "",
            "<li><b>{}</b>: {}</li>",
            (
                (capfirst(str(f.verbose_name)), describe(self.instance, f))
                for f in self.djira_conflict
            ),
        )
        return format_html(
            '<span class="djira-live-conflict">Someone else saved this {} after you opened '
            "it. Their values now:</span><ul>{}</ul>Your values are in the form below: "
            "save again to overwrite theirs, or reload the page to start from theirs.",
            self.instance._meta.verbose_name,
            items,
        )
