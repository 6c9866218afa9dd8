"""Checks what the Slack app sent against python `slack_sdk`'s own models and Slack's documented
limits, so a payload the real Slack would refuse (or silently cut) fails the test that caused it.

Input: the file named by the first argument (or stdin): a JSON list of {"kind": ..., "payload": ...}, where kind is the Web API method
(`views.open`, `views.publish`, `chat.postMessage`), `response` (a `response_url` follow-up, or the
HTTP answer to a slash command) or `view_errors` (the answer to a view submission). Exit 0 when
every payload passes; otherwise each offending payload is printed with why, and the exit is 1.

What counts as invalid:
- anything `View(**view).validate_json()`, `Block.parse(...)` or the models' `to_dict()` (which
  validates every nested object) refuse: lengths, counts, a home view with submit/close...;
- a block type slack_sdk does not know, or a key it ignores (a typo Slack would refuse), found by
  comparing what went in with what the model gives back;
- Slack's documented limits the models do not check: at most 50 blocks in a message, 40 000
  characters of message text, unique block ids in a view;
- mrkdwn that Slack would read as markup: a `<` that does not open a control sequence (`<@U1>`,
  `<#C1>`, `<!date^…|…>`, `<https://…|…>`) or an `&` that is not `&amp;`, `&lt;`, `&gt;`.
"""

import json
import logging
import re
import sys

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MESSAGE_BLOCKS_MAX = 50
MESSAGE_TEXT_MAX = 40000

MESSAGE_KEYS = {
    "chat.postMessage": {"channel", "text", "blocks", "unfurl_links", "unfurl_media", "mrkdwn"},
    "response": {
        "response_type",
        "text",
        "blocks",
        "unfurl_links",
        "unfurl_media",
        "replace_original",
        "delete_original",
        "mrkdwn",
    },
}
VIEW_KIND = {"views.open": ("trigger_id", "modal"), "views.publish": ("user_id", "home")}


class Ignored(logging.Handler):
    """Collects what slack_sdk says it ignored or skipped (unknown keys, unknown blocks)."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.seen = []

    def emit(self, record):
        msg = record.getMessage()
        if "were ignored" in msg or "Unknown" in msg:
            self.seen.append(msg)


IGNORED = Ignored()
for name in ("slack_sdk.models", "slack_sdk.models.blocks", "slack_sdk.models.blocks.blocks",
             "slack_sdk.models.views", "slack_sdk.models.blocks.block_elements",
             "slack_sdk.models.blocks.basic_components"):
    logger = logging.getLogger(name)
    logger.setLevel(logging.DEBUG)
    logger.addHandler(IGNORED)
    logger.propagate = False

CONTROL = re.compile(
    r"^(@[UW][A-Z0-9]+"
    r"|#C[A-Z0-9]+(\|[^|]+)?"
    r"|!(here|channel|everyone)"
    r"|!subteam\^[A-Z0-9]+(\|[^|]+)?"
    r"|!date\^\d+\^[^|^]+(\^[^|^]+)?\|[^|]+"
    r"|(https?|mailto):[^|\s]+(\|[^|]+)?)$"
)
ENTITY = re.compile(r"&(amp|lt|gt);")


def mrkdwn_problems(text):
    """What Slack would misread in mrkdwn `text`."""
    problems = []
    for m in re.finditer(r"<([^>]*)>?", text):
        inner = m.group(1)
        if not m.group(0).endswith(">") or not CONTROL.match(inner):
            problems.append(f"mrkdwn reads <{inner}> as markup: escape < as &lt;")
    for m in re.finditer(r"&", text):
        if not ENTITY.match(text, m.start()):
            problems.append("a bare & in mrkdwn: escape it as &amp;")
    return problems


def mrkdwn_texts(node):
    """Every mrkdwn text object inside `node`."""
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
            yield node["text"]
        for v in node.values():
            yield from mrkdwn_texts(v)
    elif isinstance(node, list):
        for v in node:
            yield from mrkdwn_texts(v)


def missing(sent, kept, path="$"):
    """Where `sent` holds something the model did not keep (an ignored key or value)."""
    if isinstance(sent, dict):
        if not isinstance(kept, dict):
            return [f"{path}: not kept as an object"]
        out = []
        for k, v in sent.items():
            if k not in kept:
                out.append(f"{path}.{k}: not a field slack_sdk knows")
            else:
                out.extend(missing(v, kept[k], f"{path}.{k}"))
        return out
    if isinstance(sent, list):
        if not isinstance(kept, list) or len(kept) != len(sent):
            return [f"{path}: list not kept"]
        out = []
        for i, (a, b) in enumerate(zip(sent, kept)):
            out.extend(missing(a, b, f"{path}[{i}]"))
        return out
    return [] if sent == kept else [f"{path}: {sent!r} became {kept!r}"]


def check_blocks(blocks, where):
    problems = []
    if not isinstance(blocks, list):
        return [f"{where}: blocks must be a list"]
    for i, raw in enumerate(blocks):
        try:
            block = Block.parse(raw)
            if block is None:
                problems.append(f"{where}[{i}]: slack_sdk does not know this block")
                continue
            problems += [f"{where}[{i}]{p[1:]}" for p in missing(raw, block.to_dict())]
        except (SlackObjectFormationError, TypeError, KeyError, AttributeError) as e:
            problems.append(f"{where}[{i}]: {e}")
    return problems


def check_view(kind, payload):
    arg, view_type = VIEW_KIND[kind]
    problems = []
    if not isinstance(payload.get(arg), str) or not payload[arg]:
        problems.append(f"{kind} needs {arg}")
    view = payload.get("view")
    if not isinstance(view, dict):
        return problems + [f"{kind} needs a view object"]
    if view.get("type") != view_type:
        problems.append(f"{kind} takes a {view_type} view, not {view.get('type')!r}")
    try:
        model = View(**view)
        model.validate_json()
        problems += missing(view, model.to_dict())
    except (SlackObjectFormationError, TypeError, KeyError, AttributeError) as e:
        problems.append(f"view: {e}")
    ids = [b.get("block_id") for b in view.get("blocks", []) if b.get("block_id")]
    if len(ids) != len(set(ids)):
        problems.append("view: duplicate block_id")
    for text in mrkdwn_texts(view):
        problems += mrkdwn_problems(text)
    return problems


def check_message(kind, payload):
    problems = []
    allowed = MESSAGE_KEYS[kind]
    for k in payload:
        if k not in allowed:
            problems.append(f"{kind}: unexpected field {k!r}")
    if kind == "response" and payload.get("response_type", "ephemeral") not in (
        "ephemeral",
        "in_channel",
    ):
        problems.append("response_type must be ephemeral or in_channel")
    text = payload.get("text")
    blocks = payload.get("blocks")
    if not (isinstance(text, str) and text) and not blocks:
        problems.append(f"{kind} needs text or blocks")
    if isinstance(text, str):
        if len(text) > MESSAGE_TEXT_MAX:
            problems.append(f"text over {MESSAGE_TEXT_MAX} characters is cut by Slack")
        if payload.get("mrkdwn", True):
            problems += mrkdwn_problems(text)
    if blocks is not None:
        if isinstance(blocks, list) and len(blocks) > MESSAGE_BLOCKS_MAX:
            problems.append(f"a message holds at most {MESSAGE_BLOCKS_MAX} blocks")
        problems += check_blocks(blocks, "blocks")
        for t in mrkdwn_texts(blocks):
            problems += mrkdwn_problems(t)
    return problems


def check_view_errors(payload):
    if payload.get("response_action") != "errors":
        return ["a view submission answer here is response_action: errors"]
    errors = payload.get("errors")
    if not isinstance(errors, dict) or not errors:
        return ["errors must map block ids to messages"]
    return [f"errors.{k} must be a non-empty string" for k, v in errors.items()
            if not isinstance(v, str) or not v]


def check(item):
    kind, payload = item.get("kind"), item.get("payload")
    if not isinstance(payload, dict):
        return [f"{kind}: the payload is not a JSON object"]
    IGNORED.seen.clear()
    if kind in VIEW_KIND:
        problems = check_view(kind, payload)
    elif kind in MESSAGE_KEYS:
        problems = check_message(kind, payload)
    elif kind == "view_errors":
        problems = check_view_errors(payload)
    else:
        return [f"unknown kind {kind!r}"]
    return problems + [f"slack_sdk: {m}" for m in IGNORED.seen]


def main():
    if len(sys.argv) > 1:
        with open(sys.argv[1], encoding="utf-8") as f:
            items = json.load(f)
    else:
        items = json.load(sys.stdin)
    bad = 0
    for item in items:
        problems = check(item)
        if problems:
            bad += 1
            print(f"REFUSED {item.get('kind')}:", file=sys.stderr)
            for p in problems:
                print(f"  - {p}", file=sys.stderr)
            print("  payload: " + json.dumps(item.get("payload"), ensure_ascii=False), file=sys.stderr)
    print(f"checked {len(items)} payloads, {bad} refused")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
