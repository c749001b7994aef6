"""Which model answered, and what it cost: the local server names the model that really answered, a new thread
with the embedded server uses the local model, a local turn costs $0, and estimates are labelled as such."""

from __future__ import annotations

import json

import pytest
from openai import OpenAI

from assistant import Assistant
from assistant.config import load_settings
from assistant.model_names import answered_label, display_name, embedded_model, is_local_model
from assistant.pricing import describe_cost, estimate_label, load_prices, local_estimate, turn_cost
from tests.support.cli import environment, run_cli
from tests.support.fixtures import TEST_KEY


def test_models_list_the_local_model_under_its_own_id_first(server):
    with OpenAI(base_url=server.base_url, api_key=TEST_KEY, max_retries=0, _strict_response_validation=True) as client:
        models = list(client.models.list())
        assert (models[0].id, models[0].owned_by) == ("reference", "local")
        # OpenAI ids stay accepted (clients written for the real API work offline), and say who answers them.
        by_id = {model.id: model.owned_by for model in models}
        assert by_id["gpt-4.1-mini"] == "local: answered by reference"
        assert client.models.retrieve("gpt-4.1-mini-2025-04-14").owned_by == "local: answered by reference"


def test_a_response_names_the_model_that_answered(server):
    with OpenAI(base_url=server.base_url, api_key=TEST_KEY, max_retries=0, _strict_response_validation=True) as client:
        assert client.responses.create(model="gpt-4.1-mini", input="hi").model == "reference"
        streamed = list(client.responses.create(model="gpt-5", input="hi", stream=True))
        assert {event.response.model for event in streamed if hasattr(event, "response")} == {"reference"}
        chat = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
        assert chat.model == "reference"
        assert client.responses.retrieve(client.responses.create(model="gpt-4o", input="x").id).model == "reference"


def test_a_local_turn_costs_nothing_and_its_estimate_is_labelled(assistant: Assistant):
    turn = assistant.thread(model="gpt-4.1-mini").ask("hello")
    assert turn.model == "reference" and turn.cost_usd == 0.0
    assert assistant.thread(turn.thread_id).history()[0].cost_usd == 0.0  # as recorded in the index
    usage = turn.usage
    priced = turn_cost("gpt-4.1-mini", usage.input_tokens, usage.cached_tokens, usage.output_tokens)
    assert priced and priced > 0
    assert local_estimate(
        turn.model, usage.input_tokens, usage.cached_tokens, usage.output_tokens, "gpt-4.1-mini"
    ) == pytest.approx(priced)
    assert (
        describe_cost(
            turn.model,
            turn.cost_usd,
            usage.input_tokens,
            usage.cached_tokens,
            usage.output_tokens,
            estimate_at="gpt-4.1-mini",
        )
        == f"$0 (local, ≈ ${priced:.6f} at gpt-4.1-mini prices)"
    )


def test_prices_of_local_and_unknown_models():
    assert turn_cost("smollm2-135m-instruct", 1000, 0, 1000, {"web_search_call": 2}) == 0.0
    assert load_prices().cost("reference", 1000, 0, 1000, {"file_search_call": 1}) == 0.0
    assert turn_cost("gpt-unknown", 1000, 0, 1000) is None  # unknown is not free
    assert describe_cost("gpt-unknown", None, 1, 0, 1) == "price unknown"
    assert describe_cost("gpt-4.1-mini", 0.0028, 1, 0, 1) == "$0.002800"
    # 100 input and 22 output tokens at gpt-4.1-mini's $0.40 / $1.60 per 1M: the example figure.
    assert estimate_label(turn_cost("gpt-4.1-mini", 100, 0, 22), "gpt-4.1-mini") == "≈ $0.000075 at gpt-4.1-mini prices"
    # A thread on the local model is estimated at gpt-4.1-mini's prices; one on a priced model at its own.
    assert (
        describe_cost("smollm2-135m-instruct", 0.0, 100, 0, 22, estimate_at="smollm2-135m-instruct")
        == "$0 (local, ≈ $0.000075 at gpt-4.1-mini prices)"
    )
    assert "at gpt-4o prices" in describe_cost("reference", 0.0, 100, 0, 22, estimate_at="gpt-4o-2024-08-06")


def test_display_names():
    assert display_name("smollm2-135m-instruct") == "SmolLM2-135M (local)"
    assert display_name("reference") == "reference engine (local)"
    assert display_name("gpt-4.1-mini") == "gpt-4.1-mini"
    assert is_local_model("reference") and not is_local_model("gpt-4.1-mini")
    assert answered_label("gpt-4.1-mini", "gpt-4.1-mini-2025-04-14") == "gpt-4.1-mini"  # the real API's snapshot
    assert answered_label("gpt-4.1-mini", "smollm2-135m-instruct") == "SmolLM2-135M (local), asked for gpt-4.1-mini"
    assert answered_label("smollm2-135m-instruct", "smollm2-135m-instruct") == "SmolLM2-135M (local)"


def test_new_threads_on_the_embedded_server_use_its_local_model(monkeypatch):
    monkeypatch.setenv("ASSISTANT_LOCAL_ENGINE", "llama")
    assert embedded_model() == "smollm2-135m-instruct"
    assert load_settings().model == "smollm2-135m-instruct"
    monkeypatch.setenv("ASSISTANT_LOCAL_ENGINE", "reference")
    assert load_settings().model == "reference"
    # With a server of one's own, or a key, the default is the hosted model; a chosen model always wins.
    assert load_settings().with_overrides(base_url="http://127.0.0.1:9/v1").model == "gpt-4.1-mini"
    assert load_settings().with_overrides(api_key="k").model == "gpt-4.1-mini"
    assert load_settings().with_overrides(model="gpt-5").model == "gpt-5"
    monkeypatch.setenv("ASSISTANT_MODEL", "gpt-4o")
    assert load_settings().model == "gpt-4o"


def test_the_cli_shows_the_local_model_and_zero_cost(tmp_path):
    env = environment(ASSISTANT_DB=str(tmp_path / "index.db"))
    assert run_cli("ask", "hello offline", env=env).returncode == 0
    [thread] = json.loads(run_cli("threads", "--json", env=env).stdout)
    assert thread["model"] == "reference"  # the embedded server's model, not gpt-4.1-mini
    assert (
        thread["id"] in run_cli("threads", env=env).stdout
        and "[reference engine (local)]" in run_cli("threads", env=env).stdout
    )
    shown = run_cli("show", thread["id"], env=env).stdout
    assert "reference engine (local)]" in shown.splitlines()[0]
    assert "answered by reference engine (local)" in shown
    assert "$0 (local, ≈ $" in shown and "at gpt-4.1-mini prices)" in shown
    config = run_cli("config", env=env).stdout
    assert "ASSISTANT_MODEL=(not set): reference (reference engine, local)" in config
