"""Parsing delivery feedback: SES's two shapes, SNS's envelope or raw, inbound SMS."""

import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentry.addresses.feedback import (
    AddressFeedback,
    Feedback,
    FeedbackKind,
    InboundSms,
    MalformedFeedbackError,
    MalformedRecipient,
    Parsed,
    SmsKeyword,
    classify_bounce,
    parse_body,
    sms_keyword,
)
from consentry.addresses.reasons import ErrorType, FailureReason

EVENTS = Path(__file__).resolve().parents[1] / "events"
RECEIVED = datetime(2026, 12, 1, tzinfo=UTC)


def fixture(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return document


def parse_all(document: str | dict[str, Any]) -> list[Parsed]:
    body = document if isinstance(document, str) else json.dumps(document)
    return parse_body(body, received_at=RECEIVED, default_region="US")


def parse(document: str | dict[str, Any]) -> list[Feedback]:
    """The feedback of a notification whose every recipient is an address."""
    parsed = parse_all(document)
    feedback = [p for p in parsed if not isinstance(p, MalformedRecipient)]
    assert len(feedback) == len(parsed)
    return feedback


def in_sns_envelope(document: object) -> dict[str, str]:
    return {
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": "arn:aws:sns:eu-west-1:123456789012:feedback",
        "Message": json.dumps(document),
        "Timestamp": "2026-11-30T09:15:03.000Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE",
        "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/cert.pem",
        "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
    }


@pytest.mark.parametrize(
    ("name", "kind", "error_type", "reason", "address"),
    [
        ("ses_bounce_hard", "bounce", "hard", "user_unknown", "jane.roe@example.com"),
        ("ses_event_bounce_hard", "bounce", "hard", "user_unknown", "old.account@example.com"),
        ("ses_bounce_soft", "bounce", "soft", "unreachable", "sam.poe@example.net"),
        ("ses_event_bounce_mailbox_full", "bounce", "soft", "mailbox_full", "ann.lee@example.org"),
        ("ses_complaint", "complaint", None, None, "kim.doe@example.com"),
        ("ses_event_complaint", "complaint", None, None, "lou.ray@example.com"),
        ("ses_delivery", "delivery", None, None, "sam.poe@example.net"),
        ("ses_event_delivery", "delivery", None, None, "sam.poe@example.net"),
    ],
)
def test_each_documented_shape_parses_the_same_in_an_envelope_or_raw(
    name: str, kind: str, error_type: str | None, reason: str | None, address: str
) -> None:
    document = fixture(name)

    raw, wrapped = parse(document), parse(in_sns_envelope(document))

    assert raw == wrapped
    [feedback] = raw
    assert isinstance(feedback, AddressFeedback)
    assert (feedback.kind.value, feedback.address, feedback.message_id) == (
        kind,
        address,
        document["mail"]["messageId"],
    )
    assert (feedback.error_type and feedback.error_type.value) == error_type
    assert (feedback.reason and feedback.reason.value) == reason
    assert feedback.at.tzinfo is not None


def test_the_feedback_time_is_the_bounces_own() -> None:
    [feedback] = parse(fixture("ses_bounce_hard"))

    assert feedback.at == datetime(2026, 11, 30, 9, 15, 2, 482000, tzinfo=UTC)


def test_no_diagnostic_text_is_kept_it_quotes_the_address() -> None:
    [feedback] = parse(fixture("ses_bounce_hard"))
    assert isinstance(feedback, AddressFeedback)

    assert "jane" not in json.dumps(dict(feedback.detail))
    assert feedback.detail["smtp_status"] == "5.1.1"


def test_the_key_tells_kinds_messages_and_recipients_apart() -> None:
    [bounce] = parse(fixture("ses_bounce_soft"))
    [delivery] = parse(fixture("ses_delivery"))
    again = parse(fixture("ses_bounce_soft"))[0]

    assert bounce.key == again.key
    assert bounce.key != delivery.key


@pytest.mark.parametrize(
    ("bounce_type", "sub_type", "expected"),
    [
        ("Permanent", "General", (ErrorType.HARD, FailureReason.USER_UNKNOWN)),
        ("Permanent", "NoEmail", (ErrorType.HARD, FailureReason.USER_UNKNOWN)),
        ("Permanent", "Suppressed", (ErrorType.HARD, FailureReason.REFUSED)),
        ("Permanent", "OnAccountSuppressionList", (ErrorType.HARD, FailureReason.REFUSED)),
        ("Permanent", "SomethingNew", (ErrorType.HARD, FailureReason.USER_UNKNOWN)),
        ("Transient", "MailboxFull", (ErrorType.SOFT, FailureReason.MAILBOX_FULL)),
        ("Transient", "General", (ErrorType.SOFT, FailureReason.UNREACHABLE)),
        ("Transient", "MessageTooLarge", (ErrorType.IGNORED, FailureReason.ERROR_IGNORED)),
        ("Transient", "ContentRejected", (ErrorType.IGNORED, FailureReason.ERROR_IGNORED)),
        ("Transient", "AttachmentRejected", (ErrorType.IGNORED, FailureReason.ERROR_IGNORED)),
        ("Undetermined", "Undetermined", (ErrorType.SOFT, FailureReason.UNREACHABLE)),
        ("Brand new", None, (ErrorType.SOFT, FailureReason.UNREACHABLE)),
    ],
)
def test_bounces_map_as_the_domain_says(
    bounce_type: str, sub_type: str | None, expected: tuple[ErrorType, FailureReason]
) -> None:
    assert classify_bounce(bounce_type, sub_type) == expected


def test_reason_codes_are_adobe_campaigns() -> None:
    assert [r.code for r in FailureReason] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 25]


def test_a_not_spam_complaint_is_no_feedback() -> None:
    document = fixture("ses_complaint")
    document["complaint"]["complaintFeedbackType"] = "not-spam"

    assert parse(document) == []


def test_a_complaint_without_a_feedback_type_counts() -> None:
    document = fixture("ses_complaint")
    del document["complaint"]["complaintFeedbackType"]

    [feedback] = parse(document)
    assert isinstance(feedback, AddressFeedback)

    assert feedback.kind is FeedbackKind.COMPLAINT


@pytest.mark.parametrize(
    "document",
    [
        fixture("ses_event_open"),
        {"notificationType": "AmazonSnsSubscriptionSucceeded", "message": "ok"},
        {"eventType": "Send", "mail": {"messageId": "m"}, "send": {}},
        {**in_sns_envelope({}), "Type": "SubscriptionConfirmation"},
    ],
    ids=["open", "subscription-succeeded", "send", "sns-subscription-confirmation"],
)
def test_notifications_without_feedback_are_empty(document: dict[str, Any]) -> None:
    assert parse(document) == []


@pytest.mark.parametrize(
    "body",
    [
        "",
        "not json",
        "[1, 2]",
        json.dumps({"hello": "world"}),
        json.dumps({**in_sns_envelope({}), "Message": None}),
        json.dumps(in_sns_envelope("a string")),
        json.dumps({"notificationType": "Bounce", "mail": {"messageId": "m"}}),
        json.dumps({**fixture("ses_bounce_hard"), "mail": {"timestamp": "2026-11-30T09:15:00Z"}}),
        json.dumps({**fixture("ses_delivery"), "delivery": {"recipients": []}}),
        json.dumps({"originationNumber": "+14255550182", "messageBody": "STOP"}),
        json.dumps({**fixture("sms_stop"), "originationNumber": "not a number"}),
    ],
)
def test_a_body_that_is_not_feedback_is_malformed(body: str) -> None:
    with pytest.raises(MalformedFeedbackError):
        parse(body)


@pytest.mark.parametrize(
    ("section", "change", "where"),
    [
        ("mail", {"messageId": "", "secret": "x"}, "$.mail.messageId"),
        ("mail", {"timestamp": "jane.roe@example.com"}, "$.mail.timestamp"),
        ("bounce", {"bouncedRecipients": ["jane.roe@example.com"]}, "bouncedRecipients[0]"),
        ("bounce", {"bounceType": 7}, "$.bounce.bounceType"),
    ],
)
def test_a_malformed_notification_names_its_field_and_none_of_its_values(
    section: str, change: dict[str, Any], where: str
) -> None:
    document = fixture("ses_bounce_hard")
    document[section] = {**document[section], **change}

    with pytest.raises(MalformedFeedbackError) as raised:
        parse_all(document)

    assert where in str(raised.value)
    assert "jane" not in str(raised.value)


def test_a_recipient_that_is_not_an_address_is_malformed_and_keeps_nothing_of_it() -> None:
    document = fixture("ses_bounce_hard")
    document["bounce"]["bouncedRecipients"][0]["emailAddress"] = "jane.roe at example"

    (parsed,) = parse_all(document)

    assert isinstance(parsed, MalformedRecipient)
    assert "jane" not in repr(parsed)


@pytest.mark.parametrize(
    ("name", "section", "field"),
    [
        ("bounce_soft", "bounce", "bouncedRecipients"),
        ("complaint", "complaint", "complainedRecipients"),
        ("delivery", "delivery", "recipients"),
    ],
)
def test_a_malformed_recipient_spoils_none_of_its_fellows(
    name: str, section: str, field: str
) -> None:
    document = fixture(f"ses_{name}")
    listed = document[section][field]
    good, bad = "Good.One@example.com", "jane.roe at example"
    if field == "recipients":
        document[section][field] = [bad, good]
    else:
        document[section][field] = [{**listed[0], "emailAddress": a} for a in (bad, good)]

    parsed = parse_all(document)

    assert [type(p) for p in parsed] == [MalformedRecipient, AddressFeedback]
    assert isinstance(parsed[1], AddressFeedback)
    assert parsed[1].address == "good.one@example.com"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(JSON)
def test_any_json_is_feedback_or_malformed_never_a_crash(document: object) -> None:
    try:
        result = parse_all(json.dumps(document))
    except MalformedFeedbackError:
        return
    assert isinstance(result, list)


@given(st.dictionaries(st.sampled_from(["bounce", "mail", "notificationType"]), JSON))
def test_any_bounce_like_json_is_feedback_or_malformed(document: dict[str, object]) -> None:
    with contextlib.suppress(MalformedFeedbackError):
        assert isinstance(parse_all({"notificationType": "Bounce", **document}), list)


def test_an_inbound_text_is_dated_by_the_envelope_and_read_in_the_default_region() -> None:
    document = {**fixture("sms_stop"), "originationNumber": "(425) 555-0182"}

    [text] = parse(in_sns_envelope(document))

    assert isinstance(text, InboundSms)
    assert (text.number, text.our_number, text.keyword) == (
        "+14255550182",
        "+12125550101",
        SmsKeyword.OPT_OUT,
    )
    assert text.at == datetime(2026, 11, 30, 9, 15, 3, tzinfo=UTC)


def test_a_stop_counts_from_a_number_phonenumbers_does_not_hold_valid() -> None:
    """A text came from it, so it exists: phonenumbers' data may lag a new range."""
    document = {**fixture("sms_stop"), "originationNumber": "+10123456789"}

    [text] = parse(in_sns_envelope(document))

    assert isinstance(text, InboundSms)
    assert (text.number, text.keyword) == ("+10123456789", SmsKeyword.OPT_OUT)


@pytest.mark.parametrize(
    ("body", "keyword"),
    [
        ("STOP", SmsKeyword.OPT_OUT),
        ("stop", SmsKeyword.OPT_OUT),
        ("  Stop.  ", SmsKeyword.OPT_OUT),
        ("STOPALL", SmsKeyword.OPT_OUT),
        ("unsubscribe me", SmsKeyword.OPT_OUT),
        ("Opt-Out", SmsKeyword.OPT_OUT),
        ("optout", SmsKeyword.OPT_OUT),
        ("revoke", SmsKeyword.OPT_OUT),
        ("Arrêt", SmsKeyword.OPT_OUT),
        ("ARRET", SmsKeyword.OPT_OUT),
        ("afmelden", SmsKeyword.OPT_OUT),
        ("Stoppen!", SmsKeyword.OPT_OUT),
        ("START", SmsKeyword.OPT_IN),
        ("unstop", SmsKeyword.OPT_IN),
        ("Yes", SmsKeyword.OPT_IN),
        ("help", SmsKeyword.HELP),
        ("INFO?", SmsKeyword.HELP),
        ("please stop", None),
        ("stopping by later", None),
        ("", None),
        ("   ", None),
    ],
)
def test_the_keyword_is_the_first_word_in_any_case(body: str, keyword: SmsKeyword | None) -> None:
    assert sms_keyword(body) is keyword


@pytest.mark.parametrize("name", ["ses_bounce_hard", "ses_complaint", "ses_delivery"])
def test_the_sending_domain_is_kept_where_ses_names_the_source(name: str) -> None:
    (feedback,) = parse_all(fixture(name))

    assert isinstance(feedback, AddressFeedback)
    assert feedback.detail["sender_domain"] == "mail.example.org"


@pytest.mark.parametrize("source", [None, "not an address", 7])
def test_a_source_that_is_not_an_address_gives_no_sending_domain(source: object) -> None:
    document = fixture("ses_bounce_hard")
    document["mail"]["source"] = source

    (feedback,) = parse_all(document)

    assert isinstance(feedback, AddressFeedback)
    assert "sender_domain" not in feedback.detail
