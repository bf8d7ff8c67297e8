"""The CDS Hooks 2.0 request, validated at the boundary with marshmallow into typed objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate, validates_schema

from cds_hooks.errors import HookMismatch, InvalidRequest, first_error

_TEXT = validate.Length(min=1)
PATIENT_VIEW = "patient-view"
ORDER_HOOKS = frozenset({"order-select", "order-sign"})
"""The hooks whose context carries draft orders (``draftOrders``, required); patient-view has none."""
NO_DRAFTS: Mapping[str, Any] = {"resourceType": "Bundle", "type": "collection"}


@dataclass(frozen=True, slots=True)
class FhirAuthorization:
    access_token: str
    token_type: str
    expires_in: int
    scope: str
    subject: str
    patient: str | None = None

    def __repr__(self) -> str:
        """Never shows the token, so a logged or printed object cannot leak it."""
        return f"FhirAuthorization(token_type={self.token_type!r}, scope={self.scope!r}, subject={self.subject!r})"


@dataclass(frozen=True, slots=True)
class OrderContext:
    """The context of order-select and order-sign, and of patient-view (which has no draft orders: an empty
    Bundle here, whatever the request holds)."""

    user_id: str
    patient_id: str = field(repr=False)
    encounter_id: str | None = field(repr=False)
    draft_orders: Mapping[str, Any] = field(repr=False)
    selections: tuple[str, ...] | None
    """order-select only: the newly selected orders, as ``ResourceType/id``."""

    def tokens(self) -> dict[str, str]:
        """The values prefetch templates may use (``context.patientId`` and friends)."""
        values = {"context.userId": self.user_id, "context.patientId": self.patient_id}
        if self.encounter_id:
            values["context.encounterId"] = self.encounter_id
        kind, _, ident = self.user_id.partition("/")
        if kind == "Practitioner" and ident:
            values["userPractitionerId"] = ident
        elif kind == "PractitionerRole" and ident:
            values["userPractitionerRoleId"] = ident
        return values


@dataclass(frozen=True, slots=True)
class HookRequest:
    hook: str
    hook_instance: str
    context: OrderContext
    prefetch: Mapping[str, Any] = field(repr=False)
    """Only the keys the client sent; a key whose value is None was sent as ``null`` (no such data)."""
    fhir_server: str | None = None
    fhir_authorization: FhirAuthorization | None = None
    configuration: Mapping[str, bool] = field(default_factory=dict)
    """The PDDI configuration items the EHR sent (``extension.configuration-items``), by code."""


CONFIGURATION_KEYS = ("configuration-items", "pddi-configuration-items")
"""Where a request's ``extension`` carries PDDI configuration items: the HL7 PDDI CDS specification's name, and the
name its published examples use."""


def configuration_items(extension: object) -> dict[str, bool]:
    """The configuration items of a request's ``extension``: an object of code -> boolean, or a list of
    ``{"code": ..., "value": ...}``. A value that is not a boolean is refused, naming the field.

    >>> configuration_items({"configuration-items": {"filter-out-repeated-alerts": True}})
    {'filter-out-repeated-alerts': True}
    >>> configuration_items({"configuration-items": [{"code": "cache-for-order-sign-filtering", "value": False}]})
    {'cache-for-order-sign-filtering': False}
    """
    if not isinstance(extension, Mapping):
        return {}
    for key in CONFIGURATION_KEYS:
        if key not in extension:
            continue
        items = extension[key]
        where = f"extension.{key}"
        if isinstance(items, Mapping):
            pairs = [(code, value, f"{where}.{code}") for code, value in items.items()]
        elif isinstance(items, list) and all(isinstance(item, Mapping) for item in items):
            pairs = [(item.get("code"), item.get("value"), f"{where}.{number}") for number, item in enumerate(items)]
        else:
            raise InvalidRequest(f"{where}: must be an object of booleans or a list of {{code, value}}.", field=where)
        found = {}
        for code, value, field_name in pairs:
            if not isinstance(code, str) or not code or not isinstance(value, bool):
                raise InvalidRequest(f"{field_name}: a configuration item needs a code and a true or false value.",
                                     field=field_name)
            found[code] = value
        return found
    return {}


class _FhirAuthorizationSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    access_token = fields.Str(required=True, validate=_TEXT)
    token_type = fields.Str(required=True, validate=validate.Equal("Bearer"))
    expires_in = fields.Int(required=True, strict=True, validate=validate.Range(min=0))
    scope = fields.Str(required=True, validate=_TEXT)
    subject = fields.Str(required=True, validate=_TEXT)
    patient = fields.Str(validate=_TEXT)

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: object) -> FhirAuthorization:
        return FhirAuthorization(**data)


class _JsonObject(fields.Field):
    """A JSON object taken as it is: checked, never copied (prefetch and draft orders can be large)."""

    default_error_messages = {"invalid": "Not a valid mapping type."}  # noqa: RUF012 (marshmallow reads it so)

    def _deserialize(self, value: object, attr: str | None, data: object, **kwargs: object) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.make_error("invalid")
        return value


class _Bundle(_JsonObject):
    """A FHIR Bundle: an object whose resourceType is Bundle and whose ``entry``, when present, is a list."""

    def _deserialize(self, value: object, attr: str | None, data: object, **kwargs: object) -> dict[str, Any]:
        result = super()._deserialize(value, attr, data, **kwargs)
        if result.get("resourceType") != "Bundle":
            raise ValidationError("must be a FHIR Bundle (resourceType Bundle).")
        if "entry" in result and not isinstance(result["entry"], list):
            raise ValidationError("entry must be an array.")
        return result


class _ContextSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    userId = fields.Str(required=True, validate=_TEXT)
    patientId = fields.Str(required=True, validate=_TEXT)
    encounterId = fields.Str(validate=_TEXT)
    draftOrders = _Bundle()
    selections = fields.List(fields.Str(validate=_TEXT))


class _RequestSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    hook = fields.Str(required=True, validate=_TEXT)
    hookInstance = fields.Str(required=True, validate=_TEXT)
    fhirServer = fields.Url(require_tld=False, schemes={"http", "https"})
    fhirAuthorization = fields.Nested(_FhirAuthorizationSchema)
    context = fields.Nested(_ContextSchema, required=True)
    prefetch = _JsonObject()
    extension = _JsonObject()

    @validates_schema
    def _authorization_needs_server(self, data: dict[str, Any], **kwargs: object) -> None:
        if "fhirAuthorization" in data and "fhirServer" not in data:
            raise ValidationError("is required when fhirAuthorization is given.", "fhirServer")


_REQUEST_SCHEMA = _RequestSchema()
"""Built once: marshmallow schemas are costly to construct and safe to share for loading."""


def load_request(body: object, hook: str) -> HookRequest:
    """Validate a decoded request body for a service registered on ``hook``.

    Raises InvalidRequest naming the first bad field, or HookMismatch when the request is for another hook.
    """
    if not isinstance(body, Mapping):
        raise InvalidRequest("The request body must be a JSON object.")
    try:
        data = _REQUEST_SCHEMA.load(body)
    except ValidationError as error:
        field, message = first_error(error.messages)
        raise InvalidRequest(f"{field}: {message}", field=field) from None
    if data["hook"] != hook:
        raise HookMismatch(
            f"hook: this service is registered for {hook!r}, not {data['hook']!r}.", field="hook"
        )
    context = data["context"]
    if hook in ORDER_HOOKS and "draftOrders" not in context:
        raise InvalidRequest("context.draftOrders: Missing data for required field.", field="context.draftOrders")
    if hook == "order-select" and "selections" not in context:
        raise InvalidRequest("context.selections: Missing data for required field.", field="context.selections")
    return HookRequest(
        hook=data["hook"],
        hook_instance=data["hookInstance"],
        context=OrderContext(
            user_id=context["userId"],
            patient_id=context["patientId"],
            encounter_id=context.get("encounterId"),
            draft_orders=context["draftOrders"] if hook in ORDER_HOOKS else NO_DRAFTS,
            selections=tuple(context["selections"]) if hook == "order-select" else None,
        ),
        prefetch=data.get("prefetch", {}),
        fhir_server=data.get("fhirServer"),
        fhir_authorization=data.get("fhirAuthorization"),
        configuration=configuration_items(data.get("extension")),
    )
