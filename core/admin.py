"""Shared admin plumbing: admin saves and deletes go through the domain services.

The admin form still validates fields and constraints first (errors appear on the form). What
only a service knows (approval rules, links to retired items, protected deletes, roles) comes
back as an error message on the same page instead of a server error; the admin's transaction
is rolled back, so nothing is saved half-way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from .forms import refusal_message
from .services import EditConflict


class ServiceRefused(Exception):
    """A service said no (ValidationError or PermissionDenied) during an admin save or delete."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def call_service(function: Callable[..., Any], **kwargs: Any) -> Any:
    """Run a service; turn its refusal into ServiceRefused for the admin views to report."""
    try:
        return function(**kwargs)
    except EditConflict as conflict:
        raise ServiceRefused(
            f"{conflict} Nothing was saved: reload the page to see the change, then edit again."
        ) from conflict
    except (ValidationError, PermissionDenied) as error:
        raise ServiceRefused(refusal_message(error)) from error


def adopt(target: models.Model, saved: models.Model) -> None:
    """Make the admin's unsaved instance the row a create service just saved (inlines need it)."""
    for field in saved._meta.concrete_fields:
        setattr(target, field.attname, getattr(saved, field.attname))
    target._state.adding = False
    target._state.db = saved._state.db


def form_fields(form: ModelForm, allowed: Iterable[str], *, changed_only: bool) -> dict[str, Any]:
    """The changes for a service from a validated admin form: what the person entered (the
    form's cleaned data), never the instance the form has modified."""
    names = form.changed_data if changed_only else list(form.cleaned_data)
    allowed = set(allowed)
    return {name: form.cleaned_data[name] for name in names if name in allowed}


def row_deleted(formset: BaseInlineFormSet, form: ModelForm) -> bool:
    """Whether an inline row is ticked for deletion."""
    return bool(formset.can_delete and getattr(form, "cleaned_data", {}).get("DELETE"))


def save_inline_through_services(
    formset: BaseInlineFormSet,
    *,
    actor: Any,
    fields: Iterable[str],
    create: Callable[..., Any] | None,
    update: Callable[..., Any] | None,
    delete: Callable[..., Any] | None,
    parent_kwarg: str,
    item_kwarg: str,
) -> None:
    """Save an inline formset row by row through the create/update/delete services, which take
    ids (`parent_kwarg`, e.g. "goal_id"; `item_kwarg`, e.g. "kpi_id") and the changes.

    Records new/changed/deleted objects on the formset as `formset.save()` would, for the
    admin's change history.
    """
    fields = tuple(fields)
    formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
    for form in formset.initial_forms:
        instance = form.instance
        if row_deleted(formset, form):
            if delete is None:
                raise ServiceRefused(f"{instance._meta.verbose_name} rows cannot be deleted.")
            call_service(delete, **{item_kwarg: instance.pk, "actor": actor}, **_row_version(form))
            formset.deleted_objects.append(instance)
        elif form.has_changed() and update is not None:
            changes = form_fields(form, fields, changed_only=True)
            if not changes:
                continue  # only the hidden version differed: nothing the person edited
            call_service(
                update,
                **{item_kwarg: instance.pk, "actor": actor},
                changes=changes,
                **_row_version(form),
            )
            formset.changed_objects.append((instance, list(changes)))
    for form in formset.extra_forms:
        if not form.has_changed() or row_deleted(formset, form):
            continue
        if create is None:
            raise ServiceRefused(f"{form.instance._meta.verbose_name} rows cannot be added here.")
        created = call_service(
            create,
            **{parent_kwarg: formset.instance.pk, "actor": actor},
            # Untouched columns keep their model defaults (and positions append to the end).
            **form_fields(form, fields, changed_only=True),
        )
        form.instance = created
        formset.new_objects.append(created)


def _row_version(form: ModelForm) -> dict[str, Any]:
    """The version an inline row was shown at, for the services (rows of unversioned models,
    or a form without the field, send none)."""
    if "version" not in form.fields:
        return {}
    return {"version": form.cleaned_data.get("version")}


class VersionedAdminForm(forms.ModelForm):
    """An admin form that carries the version of the object it was opened at (hidden), so a
    save from a stale change page is refused instead of overwriting what changed since."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["version"].initial = getattr(self.instance, "version", None)


class VersionedInline(admin.TabularInline):
    """An inline whose existing rows carry the version they were shown at (hidden), so saving
    the parent's page refuses a row someone changed meanwhile instead of writing it back."""

    form = VersionedAdminForm

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = list(super().get_fieldsets(request, obj))
        name, options = fieldsets[0]
        fieldsets[0] = (name, {**options, "fields": [*options["fields"], "version"]})
        return fieldsets

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        fields = kwargs.get("fields")
        if fields is None:
            fields = flatten_fieldsets(self.get_fieldsets(request, obj))
        kwargs["fields"] = [name for name in fields if name != "version"]
        return super().get_formset(request, obj, **kwargs)


class ServiceModelAdmin(admin.ModelAdmin):
    """A ModelAdmin whose saves and deletes call services; refusals become error messages.

    A subclass names its services and the fields they take (declared once, in the services);
    the services take ids and changes, never the instance the admin form has modified:

        service_fields = services.GOAL_FIELDS
        id_kwarg = "goal_id"                     # how the update/delete services name the row
        parent_fields = ("goal",)                # form fields passed to create as "<name>_id"
                                                 # (and to update as changes, if in service_fields)
        create_service = staticmethod(services.goal_create)
        update_service = staticmethod(services.goal_update)
        delete_service = staticmethod(services.goal_delete)
    """

    form = VersionedAdminForm
    service_fields: tuple[str, ...] = ()
    # For a catalogue whose keepers are one rule over the user (core.permissions), not a
    # per-object one: the admin offers add, change and delete only to them, as the services
    # accept them, rather than refusing a save they were shown a form for.
    may_manage: Callable[[Any], bool] | None = None
    id_kwarg: str = ""
    parent_fields: tuple[str, ...] = ()
    create_service: Callable[..., Any] | None = None
    update_service: Callable[..., Any] | None = None
    delete_service: Callable[..., Any] | None = None

    def save_model(self, request: HttpRequest, obj: Any, form: ModelForm, change: bool) -> None:
        if change:
            if self.update_service is None:
                raise ServiceRefused(f"{obj._meta.verbose_name} cannot be changed here.")
            call_service(
                self.update_service,
                actor=request.user,
                **{self.id_kwarg: obj.pk},
                changes=form_fields(form, self.service_fields, changed_only=True),
                version=form.cleaned_data.get("version"),
            )
        else:
            if self.create_service is None:
                raise ServiceRefused(f"{obj._meta.verbose_name} cannot be added here.")
            parents = {f"{name}_id": form.cleaned_data[name].pk for name in self.parent_fields}
            # A parent that may change later (a business strategy's goal) is one of the
            # service_fields too; on create it goes only as "<name>_id".
            fields = [name for name in self.service_fields if name not in self.parent_fields]
            created = call_service(
                self.create_service,
                actor=request.user,
                **parents,
                **form_fields(form, fields, changed_only=False),
            )
            adopt(obj, created)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is not None and hasattr(obj, "version") and fieldsets:
            # Rendered hidden: the version the change page was opened at.
            name, options = fieldsets[0]
            fieldsets[0] = (name, {**options, "fields": [*options["fields"], "version"]})
        return fieldsets

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):
        # `version` is a declared form field, not an editable model field: keep it out of the
        # model fields the admin asks the form factory for.
        fields = kwargs.get("fields")
        if fields is None:
            fields = flatten_fieldsets(self.get_fieldsets(request, obj))
        kwargs["fields"] = [name for name in fields if name != "version"]
        return super().get_form(request, obj, change, **kwargs)

    def _may_manage(self, request: HttpRequest) -> bool:
        return self.may_manage is None or self.may_manage(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and self._may_manage(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and self._may_manage(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and self._may_manage(request)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        if self.delete_service is None:
            raise ServiceRefused(f"{obj._meta.verbose_name} cannot be deleted here.")
        call_service(self.delete_service, actor=request.user, **{self.id_kwarg: obj.pk})

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceRefused as refused:
            # The admin's atomic block has rolled everything back by now.
            self.message_user(request, refused.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except ServiceRefused as refused:
            self.message_user(request, refused.message, messages.ERROR)
            change_url = request.path.rsplit("/delete/", 1)[0] + "/change/"
            return HttpResponseRedirect(change_url)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # Rows that cascade with the object (links, metrics, check-ins) are edited only inline,
        # so their own admins refuse deletes; the delete service checks the permission instead.
        deleted, model_count, _perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, model_count, set(), protected

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # Bulk delete would bypass the services' dependency checks; delete one by one instead.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions
