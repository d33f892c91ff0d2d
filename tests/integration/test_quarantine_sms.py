"""Inbound SMS keywords through SNS -> SQS -> the quarantine function, replies on a fake
SMS client."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, NoReturn, cast

import pytest
from botocore.exceptions import ClientError

from consentry.addresses import address_store, decisions
from consentry.addresses.status import SMS_KEYWORD_ORIGIN, AddressState, AddressStatus
from consentry.core.settings import get_settings
from consentry.core.types import Address, Channel
from tests.integration.helpers import present
from tests.integration.quarantine_support import FakeSms, FeedbackPath, address_events, sms

if TYPE_CHECKING:
    from botocore.exceptions import _ClientErrorResponseTypeDef

NUMBER = "+14255550182"
OUR_NUMBER = "+12125550101"


@pytest.fixture
def path() -> FeedbackPath:
    return FeedbackPath()


@pytest.fixture
def texts() -> FakeSms:
    return FakeSms()


def number_state() -> AddressState | None:
    return address_store.find_address(Channel.SMS, Address(NUMBER))


def test_stop_denylists_the_number_and_sends_one_confirmation(
    path: FeedbackPath, texts: FakeSms
) -> None:
    path.publish(sms("stop"))

    path.drain(texts)

    assert present(number_state()).status is AddressStatus.DENYLISTED
    assert present(number_state()).denylist_origins == frozenset({SMS_KEYWORD_ORIGIN})
    assert texts.sent == [
        {
            "DestinationPhoneNumber": NUMBER,
            "OriginationIdentity": OUR_NUMBER,
            "MessageBody": get_settings().sms_opt_out_reply,
            "MessageType": "TRANSACTIONAL",
        }
    ]
    [event] = address_events()
    assert (event.kind, event.actor, event.detail["reply"]) == ("sms_keyword", "recipient", "sent")


def test_a_redelivered_stop_sends_no_second_confirmation(
    path: FeedbackPath, texts: FakeSms
) -> None:
    path.publish(sms("stop"))
    [event] = path.drain(texts)

    path.invoke(json.loads(json.dumps(event)), texts)

    assert len(texts.sent) == 1


def test_a_second_stop_for_a_stopped_number_sends_nothing(
    path: FeedbackPath, texts: FakeSms
) -> None:
    path.publish(sms("stop"), sms("stop", inboundMessageId="another-inbound-id"))

    path.drain(texts)

    assert len(texts.sent) == 1
    assert present(number_state()).status is AddressStatus.DENYLISTED


@pytest.mark.parametrize("body", ["STOPALL", "unsubscribe", "Cancel.", "arrêt", "Afmelden", "quit"])
def test_every_opt_out_word_stops(path: FeedbackPath, texts: FakeSms, body: str) -> None:
    path.publish(sms("stop", messageBody=body))

    path.drain(texts)

    assert present(number_state()).status is AddressStatus.DENYLISTED


def test_start_lifts_the_keyword_denylist_and_confirms(path: FeedbackPath, texts: FakeSms) -> None:
    path.publish(sms("stop"))
    path.drain(texts)

    path.publish(sms("start"))
    path.drain(texts)

    assert present(number_state()).status is AddressStatus.VALID
    assert [t["MessageBody"] for t in texts.sent] == [
        get_settings().sms_opt_out_reply,
        get_settings().sms_opt_in_reply,
    ]


def test_start_does_not_lift_an_operators_denylist(path: FeedbackPath, texts: FakeSms) -> None:
    decisions.put_status(Channel.SMS, Address(NUMBER), AddressStatus.DENYLISTED, "fraud report")
    path.publish(sms("stop"))
    path.drain(texts)

    path.publish(sms("start"))
    path.drain(texts)

    assert present(number_state()).status is AddressStatus.DENYLISTED
    assert present(number_state()).denylist_origins == frozenset({"operator"})


def test_start_without_an_earlier_stop_changes_nothing_and_sends_nothing(
    path: FeedbackPath, texts: FakeSms
) -> None:
    path.publish(sms("start"))

    path.drain(texts)

    assert number_state() is None
    assert texts.sent == []


def test_help_answers_with_help_text_and_changes_nothing(
    path: FeedbackPath, texts: FakeSms
) -> None:
    path.publish(sms("help"))

    path.drain(texts)

    assert number_state() is None
    assert [t["MessageBody"] for t in texts.sent] == [get_settings().sms_help_reply]


def test_other_texts_are_left_alone(path: FeedbackPath, texts: FakeSms) -> None:
    path.publish(sms("stop", messageBody="please call me back, do not stop"))

    path.drain(texts)

    assert number_state() is None
    assert texts.sent == []


def test_a_failed_reply_is_sent_on_the_redelivery_exactly_once(path: FeedbackPath) -> None:
    flaky = FakeSms(fail_times=1)
    path.publish(sms("stop"))

    path.deliver(flaky)  # denylisted, reply failed: the message goes back to the queue
    assert present(number_state()).status is AddressStatus.DENYLISTED
    assert flaky.sent == []
    path.drain(flaky)

    assert len(flaky.sent) == 1
    assert path.dead_letters() == []


class OptedOutAtAws(FakeSms):
    def send_text_message(self, **_kwargs: Any) -> NoReturn:
        raise ClientError(
            cast(
                "_ClientErrorResponseTypeDef",  # the stubs leave out Pinpoint's top-level Reason
                {
                    "Error": {"Code": "ConflictException", "Message": "opted out"},
                    "Reason": "DESTINATION_PHONE_NUMBER_OPTED_OUT",
                },
            ),
            "SendTextMessage",
        )


def test_a_number_on_awss_own_opt_out_list_is_denylisted_without_a_reply(
    path: FeedbackPath,
) -> None:
    path.publish(sms("stop"))

    path.drain(OptedOutAtAws())

    assert present(number_state()).status is AddressStatus.DENYLISTED
    [event] = address_events()
    assert event.detail["reply"] == "not_sent"
    assert path.dead_letters() == []


def test_a_national_number_is_read_in_the_default_region(
    path: FeedbackPath, texts: FakeSms
) -> None:
    path.publish(sms("stop", originationNumber="(425) 555-0182"))

    path.drain(texts)

    assert present(number_state()).status is AddressStatus.DENYLISTED


class RefusedReply(FakeSms):
    """What the SMS API answers to a reply it will never send (here: no such origination)."""

    def send_text_message(self, **_kwargs: Any) -> NoReturn:
        raise ClientError(
            cast(
                "_ClientErrorResponseTypeDef",  # the metadata botocore reads, without the rest
                {
                    "Error": {"Code": "ResourceNotFoundException", "Message": "no such number"},
                    "ResponseMetadata": {"HTTPStatusCode": 404},
                },
            ),
            "SendTextMessage",
        )


def test_a_refused_reply_is_logged_and_the_keyword_is_not_dead_lettered(
    path: FeedbackPath, caplog: pytest.LogCaptureFixture
) -> None:
    path.publish(sms("stop"))

    path.drain(RefusedReply())

    assert present(number_state()).status is AddressStatus.DENYLISTED
    [event] = address_events()
    assert event.detail["reply"] == "failed"
    assert path.dead_letters() == []
    logged = caplog.text
    assert "keyword reply failed and refused" in logged
    assert NUMBER not in logged
