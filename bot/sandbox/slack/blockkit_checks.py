"""Strict Block Kit and view validation, answering the way Slack does.

Slack rejects a bad payload with `invalid_blocks` (messages) or `invalid_arguments` (views) and a list of
reasons, each ending in a JSON pointer:
`must be less than 3001 characters [json-pointer:/blocks/0/text/text]`.
The checks below cover the shape the bot relies on: known block and element types, required fields, no unknown
fields, text objects, the documented length and count limits, unique `block_id`s, and `action_id`s unique per
block. Where Slack's exact rule is unknown we err on the strict side.
"""

from __future__ import annotations

from typing import Any

# Known fields per block type (unknown fields are rejected, as Slack does).
_BLOCK_FIELDS: dict[str, set[str]] = {
    "section": {"text", "fields", "accessory", "expand"},
    "divider": set(),
    "header": {"text"},
    "context": {"elements"},
    "actions": {"elements"},
    "input": {"label", "element", "dispatch_action", "hint", "optional"},
    "image": {"image_url", "slack_file", "alt_text", "title"},
    "rich_text": {"elements"},
    "markdown": {"text"},
    "video": {
        "alt_text",
        "author_name",
        "description",
        "provider_icon_url",
        "provider_name",
        "title",
        "title_url",
        "thumbnail_url",
        "video_url",
    },
    "file": {"external_id", "source"},
}
_COMMON_ELEMENT = {"type", "action_id", "confirm", "focus_on_load", "placeholder"}
_SELECT_KINDS = ("static", "external", "users", "conversations", "channels")
_ELEMENT_FIELDS: dict[str, set[str]] = {
    "button": {"type", "action_id", "text", "url", "value", "style", "confirm", "accessibility_label"},
    "overflow": {"type", "action_id", "options", "confirm"},
    "datepicker": _COMMON_ELEMENT | {"initial_date"},
    "timepicker": _COMMON_ELEMENT | {"initial_time", "timezone"},
    "datetimepicker": _COMMON_ELEMENT - {"placeholder"} | {"initial_date_time"},
    "plain_text_input": _COMMON_ELEMENT
    | {"initial_value", "multiline", "min_length", "max_length", "dispatch_action_config"},
    "email_text_input": _COMMON_ELEMENT | {"initial_value", "dispatch_action_config"},
    "url_text_input": _COMMON_ELEMENT | {"initial_value", "dispatch_action_config"},
    "number_input": _COMMON_ELEMENT
    | {"is_decimal_allowed", "initial_value", "min_value", "max_value", "dispatch_action_config"},
    "checkboxes": {"type", "action_id", "options", "initial_options", "confirm", "focus_on_load"},
    "radio_buttons": {"type", "action_id", "options", "initial_option", "confirm", "focus_on_load"},
    "rich_text_input": _COMMON_ELEMENT - {"confirm"} | {"initial_value", "dispatch_action_config"},
    "file_input": {"type", "action_id", "filetypes", "max_files"},
}
for _kind in _SELECT_KINDS:
    _extra = {
        "static": {"options", "option_groups"},
        "external": {"min_query_length"},
        "users": set(),
        "conversations": {"default_to_current_conversation", "filter", "response_url_enabled"},
        "channels": {"response_url_enabled"},
    }[_kind]
    _initial = {
        "static": "option",
        "external": "option",
        "users": "user",
        "conversations": "conversation",
        "channels": "channel",
    }[_kind]
    _ELEMENT_FIELDS[f"{_kind}_select"] = _COMMON_ELEMENT | _extra | {f"initial_{_initial}"}
    _ELEMENT_FIELDS[f"multi_{_kind}_select"] = (
        _COMMON_ELEMENT | _extra | {f"initial_{_initial}s", "max_selected_items"}
    ) - {"response_url_enabled"}

_INTERACTIVE = {
    "button",
    "overflow",
    "datepicker",
    "timepicker",
    "datetimepicker",
    "checkboxes",
    "radio_buttons",
}
_INTERACTIVE |= {f"{m}{k}_select" for k in _SELECT_KINDS for m in ("", "multi_")}
_INPUTS = (_INTERACTIVE - {"button", "overflow"}) | {
    "plain_text_input",
    "email_text_input",
    "url_text_input",
    "number_input",
    "rich_text_input",
    "file_input",
}
_VIEW_FIELDS = {
    "modal": {
        "type",
        "title",
        "blocks",
        "close",
        "submit",
        "private_metadata",
        "callback_id",
        "clear_on_close",
        "notify_on_close",
        "external_id",
        "submit_disabled",
    },
    "home": {"type", "blocks", "private_metadata", "callback_id", "external_id"},
}


class _Checker:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, ptr: str, msg: str) -> None:
        self.errors.append(f"{msg} [json-pointer:{ptr}]")

    # -- primitives -----------------------------------------------------------------------------------------

    def obj(self, value: Any, ptr: str) -> bool:
        if not isinstance(value, dict):
            self.fail(ptr, "must be an object")
            return False
        return True

    def string(self, value: Any, ptr: str, max_len: int, *, min_len: int = 0) -> None:
        if not isinstance(value, str):
            self.fail(ptr, "must be a string")
        elif len(value) > max_len:
            self.fail(ptr, f"must be less than {max_len + 1} characters")
        elif len(value) < min_len:
            self.fail(ptr, f"must be more than {min_len - 1} characters")

    def known(self, value: dict[str, Any], allowed: set[str], ptr: str) -> None:
        for key in value:
            if key not in allowed:
                self.fail(f"{ptr}/{key}", f"unknown field `{key}`")

    def required(self, value: dict[str, Any], key: str, ptr: str) -> bool:
        if key not in value or value[key] is None:
            self.fail(f"{ptr}/{key}", "missing required field")
            return False
        return True

    def text(self, value: Any, ptr: str, max_len: int, *, plain_only: bool = False) -> None:
        """A text object: `{type: plain_text|mrkdwn, text, emoji?|verbatim?}`."""
        if not self.obj(value, ptr):
            return
        kind = value.get("type")
        if kind not in ("plain_text", "mrkdwn"):
            self.fail(f"{ptr}/type", "must be one of plain_text, mrkdwn")
            return
        if plain_only and kind != "plain_text":
            self.fail(f"{ptr}/type", "must be plain_text")
        self.known(
            value, {"type", "text", "emoji"} if kind == "plain_text" else {"type", "text", "verbatim"}, ptr
        )
        if self.required(value, "text", ptr):
            self.string(value["text"], f"{ptr}/text", max_len, min_len=1)

    def option(self, value: Any, ptr: str, *, mrkdwn_ok: bool = False) -> None:
        if not self.obj(value, ptr):
            return
        self.known(value, {"text", "value", "description", "url"}, ptr)
        if self.required(value, "text", ptr):
            self.text(value["text"], f"{ptr}/text", 75, plain_only=not mrkdwn_ok)
        if self.required(value, "value", ptr):
            self.string(value["value"], f"{ptr}/value", 150, min_len=1)
        if "description" in value:
            self.text(value["description"], f"{ptr}/description", 75, plain_only=not mrkdwn_ok)

    def options(self, value: Any, ptr: str, lo: int, hi: int, *, mrkdwn_ok: bool = False) -> list[Any]:
        if not isinstance(value, list):
            self.fail(ptr, "must be an array")
            return []
        if not lo <= len(value) <= hi:
            self.fail(ptr, f"must have between {lo} and {hi} items")
        for i, opt in enumerate(value):
            self.option(opt, f"{ptr}/{i}", mrkdwn_ok=mrkdwn_ok)
        return value

    def confirm(self, value: Any, ptr: str) -> None:
        if not self.obj(value, ptr):
            return
        self.known(value, {"title", "text", "confirm", "deny", "style"}, ptr)
        for key, limit in (("title", 100), ("text", 300), ("confirm", 30), ("deny", 30)):
            if self.required(value, key, ptr):
                self.text(value[key], f"{ptr}/{key}", limit, plain_only=key != "text")

    def ident(self, value: Any, ptr: str) -> None:
        self.string(value, ptr, 255, min_len=1)

    # -- elements -------------------------------------------------------------------------------------------

    def element(self, el: Any, ptr: str, allowed: set[str]) -> str | None:
        """Checks one element; returns its action_id (if any) for the uniqueness check."""
        if not self.obj(el, ptr):
            return None
        kind = el.get("type")
        if kind not in allowed:
            self.fail(f"{ptr}/type", f"must be one of {', '.join(sorted(allowed))}")
            return None
        if kind == "image":
            self.known(el, {"type", "image_url", "slack_file", "alt_text"}, ptr)
            self.image_source(el, ptr)
            if self.required(el, "alt_text", ptr):
                self.string(el["alt_text"], f"{ptr}/alt_text", 2000, min_len=1)
            return None
        if kind in ("plain_text", "mrkdwn"):
            self.text(el, ptr, 3000)
            return None
        self.known(el, _ELEMENT_FIELDS[kind], ptr)
        if "action_id" in el:
            self.ident(el["action_id"], f"{ptr}/action_id")
        if "confirm" in el:
            self.confirm(el["confirm"], f"{ptr}/confirm")
        if "placeholder" in el:
            self.text(el["placeholder"], f"{ptr}/placeholder", 150, plain_only=True)
        if kind == "button":
            if self.required(el, "text", ptr):
                self.text(el["text"], f"{ptr}/text", 75, plain_only=True)
            if "value" in el:
                self.string(el["value"], f"{ptr}/value", 2000, min_len=1)
            if "url" in el:
                self.string(el["url"], f"{ptr}/url", 3000, min_len=1)
            if "style" in el and el["style"] not in ("primary", "danger"):
                self.fail(f"{ptr}/style", "must be one of primary, danger")
        elif kind == "overflow":
            if self.required(el, "options", ptr):
                self.options(el["options"], f"{ptr}/options", 2, 5)
        elif kind in ("static_select", "multi_static_select"):
            self.static_select(el, ptr)
        elif kind in ("checkboxes", "radio_buttons"):
            if self.required(el, "options", ptr):
                opts = self.options(el["options"], f"{ptr}/options", 1, 10, mrkdwn_ok=True)
                values = {o.get("value") for o in opts if isinstance(o, dict)}
                initial = (
                    el.get("initial_options", []) if kind == "checkboxes" else [el.get("initial_option")]
                )
                for i, opt in enumerate(x for x in initial if x is not None):
                    if not isinstance(opt, dict) or opt.get("value") not in values:
                        self.fail(
                            f"{ptr}/initial_option{'s/' + str(i) if kind == 'checkboxes' else ''}",
                            "must match one of the options",
                        )
        elif kind == "plain_text_input":
            lo, hi = el.get("min_length", 0), el.get("max_length", 3000)
            if not isinstance(lo, int) or not 0 <= lo <= 3000:
                self.fail(f"{ptr}/min_length", "must be an integer between 0 and 3000")
            if not isinstance(hi, int) or not 1 <= hi <= 3000:
                self.fail(f"{ptr}/max_length", "must be an integer between 1 and 3000")
            if "initial_value" in el and isinstance(hi, int):
                self.string(el["initial_value"], f"{ptr}/initial_value", hi)
        return str(el["action_id"]) if isinstance(el.get("action_id"), str) else None

    def static_select(self, el: dict[str, Any], ptr: str) -> None:
        has_opts, has_groups = "options" in el, "option_groups" in el
        if has_opts == has_groups:
            self.fail(ptr, "must provide exactly one of options, option_groups")
            return
        all_opts: list[Any] = []
        if has_opts:
            all_opts = self.options(el["options"], f"{ptr}/options", 1, 100)
        else:
            groups = el["option_groups"]
            if not isinstance(groups, list) or not 1 <= len(groups) <= 100:
                self.fail(f"{ptr}/option_groups", "must have between 1 and 100 items")
                return
            for i, group in enumerate(groups):
                gptr = f"{ptr}/option_groups/{i}"
                if not self.obj(group, gptr):
                    continue
                self.known(group, {"label", "options"}, gptr)
                if self.required(group, "label", gptr):
                    self.text(group["label"], f"{gptr}/label", 75, plain_only=True)
                if self.required(group, "options", gptr):
                    all_opts += self.options(group["options"], f"{gptr}/options", 1, 100)
        values = {o.get("value") for o in all_opts if isinstance(o, dict)}
        initial = (
            el.get("initial_options", []) if el["type"].startswith("multi_") else [el.get("initial_option")]
        )
        for opt in initial:
            if opt is not None and (not isinstance(opt, dict) or opt.get("value") not in values):
                self.fail(f"{ptr}/initial_option", "must match one of the options")

    def image_source(self, value: dict[str, Any], ptr: str) -> None:
        if ("image_url" in value) == ("slack_file" in value):
            self.fail(ptr, "must provide exactly one of image_url, slack_file")
        elif "image_url" in value:
            self.string(value["image_url"], f"{ptr}/image_url", 3000, min_len=1)

    # -- blocks ---------------------------------------------------------------------------------------------

    def blocks(self, blocks: Any, ptr: str, max_blocks: int) -> None:
        if not isinstance(blocks, list):
            self.fail(ptr, "must be an array")
            return
        if len(blocks) > max_blocks:
            self.fail(ptr, f"no more than {max_blocks} items allowed")
        block_ids: set[str] = set()
        for i, block in enumerate(blocks):
            bptr = f"{ptr}/{i}"
            if not self.obj(block, bptr):
                continue
            kind = block.get("type")
            if kind not in _BLOCK_FIELDS:
                self.fail(f"{bptr}/type", f"unknown block type `{kind}`")
                continue
            self.known(block, _BLOCK_FIELDS[kind] | {"type", "block_id"}, bptr)
            if "block_id" in block:
                self.ident(block["block_id"], f"{bptr}/block_id")
                if block["block_id"] in block_ids:
                    self.fail(f"{bptr}/block_id", f"duplicate block_id `{block['block_id']}`")
                if isinstance(block["block_id"], str):
                    block_ids.add(block["block_id"])
            getattr(self, f"block_{kind}", self.block_other)(block, bptr)

    def _unique_actions(self, action_ids: list[str | None], ptr: str) -> None:
        seen: set[str] = set()
        for i, action_id in enumerate(action_ids):
            if action_id is not None and action_id in seen:
                self.fail(f"{ptr}/{i}/action_id", f"duplicate action_id `{action_id}`")
            if action_id is not None:
                seen.add(action_id)

    def block_section(self, block: dict[str, Any], ptr: str) -> None:
        if "text" not in block and "fields" not in block:
            self.fail(ptr, "must provide at least one of text, fields")
        if "text" in block:
            self.text(block["text"], f"{ptr}/text", 3000)
        if "fields" in block:
            fields = block["fields"]
            if not isinstance(fields, list) or not 1 <= len(fields) <= 10:
                self.fail(f"{ptr}/fields", "must have between 1 and 10 items")
            else:
                for i, f in enumerate(fields):
                    self.text(f, f"{ptr}/fields/{i}", 2000)
        if "accessory" in block:
            self.element(block["accessory"], f"{ptr}/accessory", _INTERACTIVE | {"image"})

    def block_divider(self, block: dict[str, Any], ptr: str) -> None:
        return None

    def block_header(self, block: dict[str, Any], ptr: str) -> None:
        if self.required(block, "text", ptr):
            self.text(block["text"], f"{ptr}/text", 150, plain_only=True)

    def _element_list(self, block: dict[str, Any], ptr: str, allowed: set[str], hi: int) -> None:
        if not self.required(block, "elements", ptr):
            return
        elements = block["elements"]
        if not isinstance(elements, list) or not 1 <= len(elements) <= hi:
            self.fail(f"{ptr}/elements", f"must have between 1 and {hi} items")
            return
        ids = [self.element(el, f"{ptr}/elements/{i}", allowed) for i, el in enumerate(elements)]
        self._unique_actions(ids, f"{ptr}/elements")

    def block_context(self, block: dict[str, Any], ptr: str) -> None:
        self._element_list(block, ptr, {"image", "plain_text", "mrkdwn"}, 10)

    def block_actions(self, block: dict[str, Any], ptr: str) -> None:
        self._element_list(block, ptr, _INTERACTIVE, 25)

    def block_input(self, block: dict[str, Any], ptr: str) -> None:
        if self.required(block, "label", ptr):
            self.text(block["label"], f"{ptr}/label", 2000, plain_only=True)
        if self.required(block, "element", ptr):
            self.element(block["element"], f"{ptr}/element", _INPUTS)
        if "hint" in block:
            self.text(block["hint"], f"{ptr}/hint", 2000, plain_only=True)
        for flag in ("optional", "dispatch_action"):
            if flag in block and not isinstance(block[flag], bool):
                self.fail(f"{ptr}/{flag}", "must be a boolean")

    def block_image(self, block: dict[str, Any], ptr: str) -> None:
        self.image_source(block, ptr)
        if self.required(block, "alt_text", ptr):
            self.string(block["alt_text"], f"{ptr}/alt_text", 2000, min_len=1)
        if "title" in block:
            self.text(block["title"], f"{ptr}/title", 2000, plain_only=True)

    def block_rich_text(self, block: dict[str, Any], ptr: str) -> None:
        if self.required(block, "elements", ptr) and not isinstance(block["elements"], list):
            self.fail(f"{ptr}/elements", "must be an array")

    def block_markdown(self, block: dict[str, Any], ptr: str) -> None:
        if self.required(block, "text", ptr):
            self.string(block["text"], f"{ptr}/text", 12000, min_len=1)

    def block_other(self, block: dict[str, Any], ptr: str) -> None:
        return None  # video, file: only the field names are checked


def check_blocks(blocks: Any, *, max_blocks: int = 50, pointer: str = "/blocks") -> list[str]:
    """Reasons why `blocks` would be rejected (empty when valid)."""
    checker = _Checker()
    checker.blocks(blocks, pointer, max_blocks)
    return checker.errors


def check_view(view: Any, *, pointer: str = "/view") -> list[str]:
    """Reasons why a modal or home view would be rejected by `views.*` (empty when valid)."""
    c = _Checker()
    if not c.obj(view, pointer):
        return c.errors
    kind = view.get("type")
    if kind not in _VIEW_FIELDS:
        c.fail(f"{pointer}/type", "must be one of modal, home")
        return c.errors
    c.known(view, _VIEW_FIELDS[kind], pointer)
    if c.required(view, "blocks", pointer):
        c.blocks(view["blocks"], f"{pointer}/blocks", 100)
    if kind == "modal":
        if c.required(view, "title", pointer):
            c.text(view["title"], f"{pointer}/title", 24, plain_only=True)
        for key in ("submit", "close"):
            if key in view:
                c.text(view[key], f"{pointer}/{key}", 24, plain_only=True)
        blocks = view.get("blocks") if isinstance(view.get("blocks"), list) else []
        if "submit" not in view and any(isinstance(b, dict) and b.get("type") == "input" for b in blocks):
            c.fail(f"{pointer}/submit", "is required when the view has input blocks")
        for flag in ("clear_on_close", "notify_on_close", "submit_disabled"):
            if flag in view and not isinstance(view[flag], bool):
                c.fail(f"{pointer}/{flag}", "must be a boolean")
    if "callback_id" in view:
        c.string(view["callback_id"], f"{pointer}/callback_id", 255)
    if "private_metadata" in view:
        c.string(view["private_metadata"], f"{pointer}/private_metadata", 3000)
    if "external_id" in view:
        c.string(view["external_id"], f"{pointer}/external_id", 255)
    return c.errors
