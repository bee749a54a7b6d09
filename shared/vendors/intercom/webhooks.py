"""Intercom's webhooks, declared: X-Hub-Signature, the notification envelope, the topics.

A notification (https://developers.intercom.com/docs/references/2.14/webhooks/webhook-models):

    POST <our URL>
    X-Hub-Signature: sha1=<hex HMAC-SHA1 of the raw body, keyed by the app's client secret>
    {"type": "notification_event", "id": "notif_...", "topic": "contact.user.updated",
     "app_id": "...", "created_at": 1713533523, "first_sent_at": ..., "delivery_attempts": 1,
     "data": {"type": "notification_event_data", "item": {<the contact, as the REST API shows it>}}}

The notification id is the same on every retry of a notification (the body is not: it
counts delivery_attempts), so it is the delivery's dedupe key. Records carry updated_at,
their version: an older notification processed after a newer one changes nothing.

`*.deleted` topics carry only identifying fields: they become tombstones versioned by the
notification's created_at. contact.merged carries the contact merged INTO (the lead merged
away is not named, and is 404 from then on): the surviving contact is upserted and the lead
is removed by the next full pass's sweep. contact.archived is a tombstone (archived contacts
leave the listings, so a sweep would remove them too); contact.unarchived and the admin
topics fetch the record (admins have no updated_at to order notifications by).

Webhooks are configured in the Developer Hub (Your app > Webhooks): there is no API to
register them, so the setup endpoint shows the URL to paste and whether the secret is set.
"""

from __future__ import annotations

from shared.vendors.webhooks import Envelope, HmacSignature, TopicRule, WebhookScheme

#: an Intercom notification older than this is refused: Intercom delivers within hours
#: (throttling delays reach 2 hours, paused subscriptions resume after 15 minutes), and
#: deliveries are remembered for 7 days (shared.webhooks.deliveries)
MAX_AGE_S = 3 * 86_400

_CONTACT_UPSERTS = (
    "contact.user.created", "contact.user.updated", "contact.lead.created", "contact.lead.updated",
    "contact.lead.signed_up", "contact.lead.added_email", "contact.email.updated", "contact.subscribed",
    "contact.unsubscribed", "contact.merged",
)
_CONVERSATION_UPSERTS = (
    "conversation.user.created", "conversation.user.replied", "conversation.admin.replied",
    "conversation.admin.single.created", "conversation.admin.assigned", "conversation.admin.noted",
    "conversation.admin.closed", "conversation.admin.opened", "conversation.admin.snoozed",
    "conversation.admin.unsnoozed", "conversation.read", "conversation.priority.updated",
    "conversation.rating.added", "conversation.contact.attached", "conversation.contact.detached",
    "conversation_part.tag.created", "conversation_part.redacted",
)

TOPICS: dict[str, TopicRule] = {
    **{topic: TopicRule("contacts", "upsert") for topic in _CONTACT_UPSERTS},
    "contact.unarchived": TopicRule("contacts", "fetch"),
    "contact.deleted": TopicRule("contacts", "delete"),
    "contact.archived": TopicRule("contacts", "delete"),
    **{topic: TopicRule("conversations", "upsert") for topic in _CONVERSATION_UPSERTS},
    "conversation.deleted": TopicRule("conversations", "delete"),
    "company.created": TopicRule("companies", "upsert"),
    "company.updated": TopicRule("companies", "upsert"),
    "company.deleted": TopicRule("companies", "delete"),
    "admin.added_to_workspace": TopicRule("admins", "fetch"),
    "admin.away_mode_updated": TopicRule("admins", "fetch"),
    "admin.removed_from_workspace": TopicRule("admins", "delete"),
    "ping": TopicRule(None, "ignore"),
}

SCHEME = WebhookScheme(
    verifier=HmacSignature(header="X-Hub-Signature", algorithm="sha1", prefix="sha1=", secret_field="webhook_secret"),
    envelope=Envelope(
        delivery_id="id",
        topic=("topic",),
        record_id="data.item.id",
        item="data.item",
        occurred_at="created_at",
        kind=("type", "notification_event"),
    ),
    topics=TOPICS,
    fetch_paths={
        "contacts": "/contacts/{id}",
        "conversations": "/conversations/{id}",
        "companies": "/companies/{id}",
        "admins": "/admins/{id}",
    },
    max_age_s=MAX_AGE_S,
    registrar=None,
    setup_url="https://app.intercom.com/a/apps/_/developer-hub",
    setup_steps=(
        "Copy your app's client secret (Intercom Developer Hub, your app, Configure > Basic information) "
        "and save it with PUT /webhooks/{connection_id}/secret: Intercom signs every notification with it.",
        "Then Configure > Webhooks: paste the URL below as the endpoint URL and subscribe to the topics listed.",
    ),
)
