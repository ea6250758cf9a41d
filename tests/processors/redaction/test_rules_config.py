"""Loading redaction rules: the packaged defaults, user files layered on them, and the
exact errors for invalid files (sections of testdata/rules.yaml)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from max_otel.processors.redaction import (
    ConfigurationError,
    PseudonymKey,
    RedactionRules,
    Redactor,
    load_rules,
    rules_from_mapping,
)
from tests.processors.redaction.conftest import section

pytestmark = pytest.mark.unit


def write_section(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(section("rules.yaml", name)), encoding="utf-8")
    return path


def test_packaged_defaults_load_and_validate() -> None:
    rules = load_rules()
    assert rules.mask_text == "***"
    assert "conversation_id" in rules.keep_keys
    assert {"password", "phone", "email", "message_content"} <= {
        rule.name for rule in rules.sensitive_keys
    }
    assert rules.detectors["phone_international"] == "pseudonymise"
    assert rules.detectors["ip_address"] == "disabled"


def test_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("", encoding="utf-8")
    assert load_rules(path) == load_rules()
    assert load_rules(write_section(tmp_path, "empty")) == load_rules()


def test_user_file_extends_the_defaults(tmp_path: Path, key: PseudonymKey) -> None:
    rules = load_rules(write_section(tmp_path, "extended"))
    redactor = Redactor(rules, key)
    hits: Counter[str] = Counter()
    out = redactor.redact_attributes(
        {
            "max.internal_ref": "+14155550123",
            "internal.note": "call her back",
            "pin_code": "1234",
            "password": "hunter2",
            "ticket": "MAXS-0123456789ab and CUST-123456 and 4111 1111 1111 1111",
            "peer": "from 203.0.113.9",
            "url.full": "https://x.example/login?otp=991122&next=/home",
        },
        hits,
    )
    assert out["max.internal_ref"] == "+14155550123"  # added keep key
    assert out["internal.note"] == "<13 chars>"  # user rule, action length
    assert "pin_code" not in out  # user rule, action drop
    assert out["password"] == "[redacted]"  # default rule with the user's mask text
    ticket = out["ticket"]
    assert isinstance(ticket, str)
    assert ticket.startswith("[redacted] and customer:k1:")
    assert ticket.endswith(" and 4111 1111 1111 1111")  # card detector disabled
    assert out["peer"] == f"from {key.pseudonymise('ip', '203.0.113.9')}"
    assert out["url.full"] == "https://x.example/login?otp=REDACTED&next=/home"
    assert hits["max_ticket_secret"] == 1
    assert hits["max_customer_ref"] == 1


def test_user_rule_replaces_the_default_rule_of_the_same_name(key: PseudonymKey) -> None:
    rules = rules_from_mapping(section("rules.yaml", "replaces_default"))
    assert [rule.name for rule in rules.sensitive_keys].count("email") == 1
    out = Redactor(rules, key).redact_attributes({"email": "ana@example.com"}, Counter())
    assert out == {"email": "***"}


def test_inherit_defaults_false_starts_from_nothing() -> None:
    rules = rules_from_mapping(section("rules.yaml", "standalone"))
    assert [rule.name for rule in rules.sensitive_keys] == ["secret"]
    assert rules.keep_keys == ()
    assert rules.detectors == {}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "invalid_regex",
            "sensitive_keys[0].pattern of rule 'broken' must be a valid RE2 regular expression "
            "(no look-around or back-references); got 'pass(word': missing ): pass(word",
        ),
        (
            "unknown_action",
            "sensitive_keys[0].action of rule 'hidden' must be one of drop, length, mask, "
            "pseudonymise; got 'hide'",
        ),
        (
            "unknown_setting",
            "rules must only use the settings custom_detectors, detectors, inherit_defaults, "
            "keep_key_patterns, keep_keys, mask_text, max_depth, sensitive_keys, sql_keys, "
            "text_keys, url_keys, url_redacted_text, url_sensitive_query_params; got mask_txt",
        ),
        (
            "yaml_off",
            "detectors.email_address must be one of disabled, mask, pseudonymise; got False "
            "(write 'disabled': YAML reads off and no as false)",
        ),
        (
            "unknown_detector",
            "detectors.passport_number must name a built-in detector (aws_access_key_id, "
            "basic_credential, bearer_credential, email_address, github_token, google_api_key, "
            "ip_address, jwt, meta_access_token, openai_api_key, payment_card, "
            "phone_international, phone_national, private_key_block, sensitive_pair, "
            "slack_token, stripe_key, whatsapp_id); got 'passport_number'",
        ),
        (
            "duplicate_name",
            "sensitive_keys[1].name must be unique in the file; got 'pin' twice",
        ),
        (
            "clashes_with_detector",
            "custom_detectors[0].name must differ from every other rule and detector name; "
            "got 'jwt', already in use",
        ),
        ("bad_depth", "max_depth must be an integer from 1 to 100; got 0"),
        (
            "missing_action",
            "custom_detectors[0] must set action; got {'name': 'thing', 'pattern': 'THING-[0-9]+'}",
        ),
        (
            "empty_matching_detector",
            "custom_detectors[0].pattern of rule 'anything' must not match the empty string; "
            "got 'x*'",
        ),
        (
            "reserved_name",
            "custom_detectors[0].name must not be one of the engine's own names depth_cap, "
            "fail_closed, overlap, sql_literal, url_credentials, url_query_param; "
            "got 'fail_closed'",
        ),
        ("not_a_mapping", "rules must be a mapping of settings; got list"),
    ],
)
def test_invalid_section_is_rejected_with_an_exact_message(name: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        rules_from_mapping(section("rules.yaml", name))
    assert str(raised.value) == message


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    path = write_section(tmp_path, "unknown_action")
    with pytest.raises(ConfigurationError) as raised:
        load_rules(path)
    assert str(raised.value).startswith(f"{path}: sensitive_keys[0].action of rule 'hidden'")


def test_invalid_yaml_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("sensitive_keys: [\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"^rules file must be valid YAML; got "):
        load_rules(path)


def test_missing_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"^rules file must be a readable UTF-8 file"):
        load_rules(tmp_path / "absent.yaml")


def test_redactor_validates_rules_built_in_code(key: PseudonymKey) -> None:
    with pytest.raises(ConfigurationError, match=r"^mask_text must be a non-empty string; got ''$"):
        Redactor(RedactionRules(mask_text=""), key)


def test_example_rules_file_in_the_documentation_loads(tmp_path: Path, key: PseudonymKey) -> None:
    doc = Path(__file__).parents[3] / "docs" / "redaction-rules.md"
    text = doc.read_text(encoding="utf-8")
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "max-redaction.yaml"
    path.write_text(example, encoding="utf-8")
    redactor = Redactor(load_rules(path), key)
    out = redactor.redact_attributes({"email": "ana@example.com", "pin_code": "1"}, Counter())
    assert out == {"email": "[redacted]"}
