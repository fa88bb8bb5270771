"""The handover policy in force for a document type: the hub's from the last bundle, else the station TOML's."""

from __future__ import annotations

from locker import doctypes
from locker.doctypes import DocumentPolicy, DocumentType
from locker.flows.common import FlowContext


def policies(ctx: FlowContext) -> dict[DocumentType, DocumentPolicy]:
    """Every type's policy. Precedence: a type the last policy-carrying bundle named follows the hub; any other
    type (and every type before the first such bundle) follows the station TOML's ``policy`` section."""
    base = doctypes.defaults(ctx.config.policy.second_factor, ctx.config.policy.old_id_return)
    stored = ctx.store.meta(doctypes.POLICIES_KEY)
    return base if stored is None else doctypes.merged(base, doctypes.loads(stored))


def document_policy(ctx: FlowContext, doc: DocumentType) -> DocumentPolicy:
    return policies(ctx)[doc]
