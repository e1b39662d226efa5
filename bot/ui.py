"""The web UI: a chat on the left; recommendations, profile and friends' activity on the right.

`build_app(kith)` returns the Gradio Blocks; `launch(kith)` serves it. In Gradio 6 the page's
theme and CSS are arguments of `Blocks.launch()`, not of `Blocks()`: whoever launches the app
passes `**launch_options(kith.config.ui)` so the page gets Kith's look (and its login, if any).

Who is chatting: each browser is its own guest (a random id kept in the browser's storage), a
person who logged in (`ui.logins`) is that user, and only where impersonation is on (the demo
catalog, or `ui.impersonate`) may the page pick a catalog user to chat as (see `Identity`).

Every text that reaches the page as HTML is escaped here; the chat renders Markdown with Gradio's
own sanitizer.
"""

from __future__ import annotations

import html
import re
import secrets
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import gradio as gr
from pydantic import ValidationError

from bot.config import UIConfig
from bot.kith import Kith, KithInputError, Turn
from bot.profile import Profile
from retrieval.ingest import DEMO_CATALOG
from retrieval.ranking import FriendActivity, Recommendation
from retrieval.schemas import DEFAULT_TENANT, User, tenant_catalogs

# The picker's value for "this browser's own guest"; never a user id itself.
GUEST = "guest"
GUEST_ID = re.compile(r"^guest-[0-9a-f]{32}$")
TAGLINE = "Recommendations from a friend who knows your taste, and what your friends loved."
FRIENDS_SHOWN = 6
TAGS_SHOWN = 3
# Sending a message sends the browser's local time with its UTC offset (the turn's context:
# season and time of day follow from it), as the last input of the chat event.
BROWSER_TIME_JS = """
(...inputs) => {
  const now = new Date();
  const pad = (n) => String(Math.floor(Math.abs(n))).padStart(2, '0');
  const offset = -now.getTimezoneOffset();
  const stamp = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}T${pad(now.getHours())}:` +
    `${pad(now.getMinutes())}:${pad(now.getSeconds())}${offset >= 0 ? '+' : '-'}${pad(offset / 60)}:${pad(offset % 60)}`;
  return [...inputs.slice(0, -1), stamp];
}
"""
# The buttons on every recommendation card, by the signal each sends (bot/feedback.py).
FEEDBACK_LABELS = {"up": "More like this", "down": "Not for me", "owned": "Already have it"}
# A card's buttons send their signal as the recommendations panel's `feedback` event; the card
# is marked at once, so the click shows before the server answers.
FEEDBACK_JS = """
element.addEventListener('click', (event) => {
  const button = event.target.closest('button[data-signal]');
  if (!button) return;
  const card = button.closest('.kith-card');
  card.querySelectorAll('button[data-signal]').forEach((b) => b.classList.remove('kith-fb-chosen'));
  button.classList.add('kith-fb-chosen');
  card.dataset.feedback = button.dataset.signal;
  trigger('feedback', {item_id: button.dataset.itemId, signal: button.dataset.signal});
});
"""

CSS = """
html { scrollbar-gutter: stable; }
.gradio-container { max-width: 1320px !important; margin: 0 auto !important; }
footer { display: none !important; }

/* header */
#kith-header { padding: 2px 2px 14px; border-bottom: 1px solid var(--border-color-primary); margin-bottom: 4px; }
.kith-brand { display: flex; align-items: center; gap: 14px; }
.kith-brand .kith-logo { width: 44px; height: 44px; border-radius: 12px; flex: none;
  display: flex; align-items: center; justify-content: center;
  background: linear-gradient(135deg, #4f46e5, #7c3aed); color: #fff;
  font-weight: 700; font-size: 22px; box-shadow: 0 2px 6px rgba(79, 70, 229, 0.3); }
.kith-brand h1 { margin: 0 !important; font-size: 24px; font-weight: 700; letter-spacing: -0.02em; line-height: 1.15; }
.kith-brand p { margin: 2px 0 0 !important; color: var(--body-text-color-subdued); font-size: 14px; }

/* chat column */
#kith-toolbar { align-items: center; justify-content: space-between; }
#kith-toolbar .kith-section-title { margin: 0; }
#kith-chat { border-radius: 14px; border: 1px solid var(--border-color-primary) !important;
  background: var(--block-background-fill); }
#kith-chat .top-panel, #kith-chat button[aria-label="Clear"] { display: none !important; }
#kith-composer { align-items: stretch; gap: 10px; }
#kith-composer > * { min-width: 0; }
#kith-input textarea { font-size: 15px; padding: 11px 14px; }
#kith-send { min-height: 46px; font-size: 15px; }
#kith-status p { margin: 2px 4px; font-size: 13px; }
#kith-status .kith-error { color: #b91c1c; }
#kith-status .kith-ok { color: #047857; }

/* side column: scrolls on its own so the chat stays in view */
#kith-side { position: sticky; top: 12px; align-self: flex-start; max-height: calc(100vh - 150px);
  overflow-y: auto; flex-wrap: nowrap !important; padding-right: 4px; scrollbar-width: thin; }
.kith-panel { flex: none !important; background: var(--block-background-fill);
  border: 1px solid var(--border-color-primary); border-radius: 14px;
  padding: 14px 16px !important; gap: 10px !important; }
.kith-section-title { display: flex; align-items: baseline; justify-content: space-between;
  margin: 0 0 2px; font-size: 13px; font-weight: 600; text-transform: uppercase;
  letter-spacing: 0.06em; color: var(--body-text-color-subdued); }
.kith-muted { color: var(--body-text-color-subdued); font-size: 14px; margin: 2px 0; }

/* recommendation cards */
#kith-recommendations .kith-cards { display: flex; flex-direction: column; gap: 10px; }
.kith-card { border: 1px solid var(--border-color-primary); border-radius: 12px; padding: 12px 14px;
  background: var(--background-fill-primary); box-shadow: 0 1px 2px rgba(15, 23, 42, 0.05); }
.kith-card:first-child { border-color: #c7d2fe; box-shadow: 0 1px 3px rgba(79, 70, 229, 0.12); }
.kith-card-head { display: flex; align-items: flex-start; gap: 10px; }
.kith-rank { flex: none; width: 24px; height: 24px; border-radius: 50%; background: #eef2ff; color: #4338ca;
  font-size: 12px; font-weight: 700; display: flex; align-items: center; justify-content: center; margin-top: 1px; }
.kith-card-title { flex: 1; font-weight: 600; font-size: 15px; line-height: 1.35; color: var(--body-text-color); }
.kith-score { flex: none; font-size: 12px; color: var(--body-text-color-subdued); font-variant-numeric: tabular-nums;
  padding-top: 2px; }
.kith-score b { color: var(--body-text-color); font-weight: 600; }
.kith-badges { display: flex; flex-wrap: wrap; gap: 6px; margin: 8px 0 0 34px; }
.kith-badge { font-size: 12px; line-height: 1; padding: 4px 8px; border-radius: 999px; white-space: nowrap;
  background: var(--background-fill-secondary); color: var(--body-text-color-subdued);
  border: 1px solid var(--border-color-primary); }
.kith-badge-category { background: #eef2ff; color: #4338ca; border-color: #e0e7ff; text-transform: capitalize; }
.kith-badge-price { background: #ecfdf5; color: #047857; border-color: #d1fae5; font-variant-numeric: tabular-nums; }
.kith-reasons { margin: 8px 0 0 34px !important; padding: 0 0 0 16px !important; font-size: 13px; line-height: 1.45;
  color: var(--body-text-color); }
.kith-reasons li { margin: 2px 0; }
.kith-reasons li::marker { color: #818cf8; }
.kith-feedback { display: flex; flex-wrap: wrap; gap: 6px; margin: 10px 0 0 34px; }
.kith-fb { font-size: 12px; line-height: 1; padding: 5px 10px; border-radius: 999px; cursor: pointer;
  background: transparent; color: var(--body-text-color-subdued); border: 1px solid var(--border-color-primary); }
.kith-fb:hover { color: var(--body-text-color); border-color: #a5b4fc; }
.kith-fb.kith-fb-chosen { background: #eef2ff; color: #4338ca; border-color: #a5b4fc; font-weight: 600; }
.kith-card[data-feedback="down"], .kith-card[data-feedback="owned"] { opacity: 0.6; }

/* profile and friends */
#kith-profile ul { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 6px; }
#kith-profile li { font-size: 14px; line-height: 1.4; }
#kith-profile .kith-key { display: inline-block; min-width: 92px; color: var(--body-text-color-subdued); }
#kith-friends ul { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 8px; }
#kith-friends li { font-size: 13px; line-height: 1.45; padding-left: 10px; border-left: 3px solid #c7d2fe; }
#kith-friends .kith-item { font-weight: 600; display: block; color: var(--body-text-color); }
#kith-friends .kith-said { display: block; color: var(--body-text-color); margin-top: 1px; }
#kith-friends .kith-more { margin-top: 8px; font-size: 13px; }
#kith-profile-status p { margin: 2px 0; font-size: 13px; }
#kith-profile-status .kith-error { color: #b91c1c; }
#kith-profile-status .kith-ok { color: #047857; }

/* dark mode */
.dark .kith-card:first-child { border-color: #4338ca; }
.dark .kith-rank, .dark .kith-badge-category { background: #312e81; color: #e0e7ff; border-color: #3730a3; }
.dark .kith-badge-price { background: #064e3b; color: #d1fae5; border-color: #065f46; }
.dark #kith-friends li { border-left-color: #4338ca; }
.dark #kith-status .kith-error, .dark #kith-profile-status .kith-error { color: #fca5a5; }
.dark #kith-profile-status .kith-ok { color: #6ee7b7; }
"""


def launch_options(settings: UIConfig | None = None) -> dict[str, Any]:
    """The keyword arguments `Blocks.launch()` needs for Kith's look (Gradio 6 takes theme and
    CSS there) and, where `ui.logins` lists any, Gradio's login page."""
    theme = gr.themes.Soft(
        primary_hue="indigo", secondary_hue="violet", neutral_hue="slate",
        font=("system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"),
    ).set(
        block_title_background_fill="transparent",
        block_title_padding="0",
        block_title_text_color="*neutral_500",
        block_title_text_weight="600",
        body_background_fill="*neutral_100",
        button_primary_background_fill="*primary_600",
        button_primary_background_fill_hover="*primary_700",
        button_primary_background_fill_hover_dark="*primary_500",
        input_border_color="*neutral_200",
        input_border_width="1px",
        input_shadow="none",
    )
    options: dict[str, Any] = {"theme": theme, "css": CSS, "footer_links": []}
    if settings is not None and settings.logins:
        options["auth"] = settings.credentials()
        options["auth_message"] = "Sign in to chat with Kith."
    return options


# --- rendering ------------------------------------------------------------------------------

def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _price(price: float | None) -> str | None:
    if price is None:
        return None
    return "Free" if price == 0 else f"{price:,.2f}"


def render_recommendations(recommendations: list[Recommendation]) -> str:
    if not recommendations:
        return ('<p class="kith-muted">Tell Kith what you are in the mood for; picks show up here, '
                "each with its reasons.</p>")
    cards = []
    for rank, rec in enumerate(recommendations, start=1):
        badges = [f'<span class="kith-badge kith-badge-category">{_e(rec.category)}</span>']
        price = _price(rec.price)
        if price is not None:
            badges.append(f'<span class="kith-badge kith-badge-price">{_e(price)}</span>')
        badges += [f'<span class="kith-badge">{_e(tag)}</span>' for tag in rec.tags[:TAGS_SHOWN]]
        reasons = "".join(f"<li>{_e(reason)}</li>" for reason in rec.reasons)
        cards.append(
            f'<div class="kith-card" data-item-id="{_e(rec.item_id)}">'
            f'<div class="kith-card-head"><span class="kith-rank">{rank}</span>'
            f'<span class="kith-card-title">{_e(rec.title)}</span>'
            f'<span class="kith-score" title="ranking score">score <b>{rec.score:.2f}</b></span></div>'
            f'<div class="kith-badges">{"".join(badges)}</div>'
            + (f'<ul class="kith-reasons">{reasons}</ul>' if reasons else "")
            + f'<div class="kith-feedback">{_feedback_buttons(rec.item_id)}</div>'
            + "</div>"
        )
    return f'<div class="kith-cards">{"".join(cards)}</div>'


def _feedback_buttons(item_id: str) -> str:
    return "".join(
        f'<button type="button" class="kith-fb kith-fb-{signal}" data-signal="{signal}" data-item-id="{_e(item_id)}">'
        f"{_e(label)}</button>"
        for signal, label in FEEDBACK_LABELS.items()
    )


def feedback_note(signal: str, title: str) -> str:
    """What the page says once feedback on a card is stored."""
    return {
        "up": f"Noted: more like {title}, from your next message.",
        "down": f"Noted: {title} is not for you; Kith won't suggest it again.",
        "owned": f"Noted: you already have {title}; Kith won't suggest it again.",
    }[signal]


def render_friends(activity: list[FriendActivity]) -> str:
    if not activity:
        return '<p class="kith-muted">None for this answer.</p>'
    shown = activity[:FRIENDS_SHOWN]
    by_item: dict[str, list[FriendActivity]] = {}
    for entry in shown:
        by_item.setdefault(entry.item_id, []).append(entry)
    rows = "".join(
        f'<li><span class="kith-item">{_e(entries[0].item_title)}</span>'
        + "".join(f'<span class="kith-said">{_e(entry.describe())}</span>' for entry in entries)
        + "</li>"
        for entries in by_item.values()
    )
    more = len(activity) - len(shown)
    extra = f'<p class="kith-muted kith-more">and {more} more</p>' if more > 0 else ""
    return f"<ul>{rows}</ul>{extra}"


def render_profile(lines: list[str]) -> str:
    if not lines:
        return '<p class="kith-muted">Nothing yet: mention things you loved or want to avoid.</p>'
    items = []
    for line in lines:
        key, sep, value = line.partition(": ")
        if sep:
            items.append(f'<li><span class="kith-key">{_e(key)}:</span> {_e(value)}</li>')
        else:
            items.append(f"<li>{_e(line)}</li>")
    return f"<ul>{''.join(items)}</ul>"


def _status(text: str, kind: str = "error") -> str:
    return f'<p class="kith-{kind}">{_e(text)}</p>'


def _validation_message(error: ValidationError) -> str:
    problems = []
    for issue in error.errors():
        where = ".".join(str(part) for part in issue["loc"])
        problems.append(f"{where}: {issue['msg']}" if where else issue["msg"])
    return "; ".join(problems)


# --- catalogs -------------------------------------------------------------------------------

class _Catalogs:
    """One Kith per catalog of the data folder, opened on first use as the first one's sibling
    (the same settings, stores and LLM)."""

    def __init__(self, kith: Kith):
        self.default = kith.catalog
        self._opened: dict[str, Kith] = {kith.catalog: kith}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        # The page serves the data folder's own catalogs, never an API tenant's.
        return tenant_catalogs(self._opened[self.default].stores.database.catalogs(), DEFAULT_TENANT)

    def get(self, name: str | None) -> Kith:
        name = name or self.default
        with self._lock:
            if name not in self._opened:
                self._opened[name] = self._opened[self.default].sibling(name)
            return self._opened[name]


class Identity:
    """Who the page chats as. A logged-in person is their user id; otherwise the browser's own
    guest, unless impersonation is on for the catalog and the picker names one of its users."""

    def __init__(self, settings: UIConfig):
        self.settings = settings

    def impersonating(self, kith: Kith) -> bool:
        if self.settings.impersonate is not None:
            return self.settings.impersonate
        return kith.catalog == DEMO_CATALOG and not self.settings.logins

    def choices(self, kith: Kith) -> list[tuple[str, str]]:
        """The picker's entries: yourself (as guest), then the catalog's users to chat as."""
        if not self.impersonating(kith):
            return [("You", GUEST)]
        return [("Guest (you)", GUEST), *((f"{user.name} ({user.id})", user.id) for user in self.pickable(kith))]

    @staticmethod
    def pickable(kith: Kith) -> list[User]:
        """The catalog's users one may chat as: not other browsers' guests (a guest is a catalog
        user once they gave feedback on a card)."""
        return [user for user in kith.users() if not GUEST_ID.match(user.id)]

    def user_id(self, kith: Kith, choice: str | None, guest: str | None, request: gr.Request | None) -> str:
        username = getattr(request, "username", None) if request is not None else None
        if self.settings.logins:
            if not username:
                raise KithInputError("sign in to chat")
            return str(username)
        if self.impersonating(kith) and choice and choice != GUEST and choice in {u.id for u in self.pickable(kith)}:
            return choice
        if guest and GUEST_ID.match(guest):
            return guest
        raise KithInputError("this page has no guest id yet: reload it")


def new_guest(stored: str | None) -> str:
    """The browser's guest id: the one it keeps, or a new random one (an id it cannot choose:
    anything not of the form Kith issues is replaced)."""
    return stored if stored and GUEST_ID.match(stored) else f"guest-{uuid.uuid4().hex}"


# --- the app --------------------------------------------------------------------------------

def build_app(kith: Kith) -> gr.Blocks:
    catalogs = _Catalogs(kith)
    identity = Identity(kith.config.ui)
    first_choices = identity.choices(kith)

    def profile_outputs(k: Kith, profile: Profile) -> tuple[str, str]:
        return render_profile(k.describe_profile(profile)), profile.model_dump_json(indent=2)

    def picker(k: Kith, chosen: str | None) -> dict[str, Any]:
        choices = identity.choices(k)
        values = [value for _, value in choices]
        return gr.update(choices=choices, value=chosen if chosen in values else GUEST,
                         visible=identity.impersonating(k))

    # Per open page: how many times the person started over. A reply still being written when
    # this changes stops quietly. (Gradio's `cancels=` is not used: cancelling a reply blocked in
    # the model's first load could leave the queue stuck in Gradio 6.31.)
    restarts: dict[str | None, int] = {}

    with gr.Blocks(title="Kith", analytics_enabled=False) as app:
        session_state = gr.State(None)
        history_state = gr.State([])
        # Kept in the browser (encrypted with a secret of this server process), so a reload
        # continues as the same guest; a restarted server cannot read it back and issues a new one.
        guest_state = gr.BrowserState("", storage_key="kith-guest", secret=secrets.token_hex(16))
        # The browser's local time when a message is sent (filled in by BROWSER_TIME_JS).
        browser_time = gr.Textbox("", visible=False, elem_id="kith-browser-time")

        gr.HTML(
            '<div class="kith-brand"><div class="kith-logo">K</div>'
            f'<div><h1>Kith</h1><p>{_e(TAGLINE)}</p></div></div>',
            elem_id="kith-header", js_on_load=None,
        )
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=520, elem_id="kith-main"):
                with gr.Row(elem_id="kith-toolbar", equal_height=True):
                    gr.HTML('<div class="kith-section-title">Conversation</div>', js_on_load=None)
                    new = gr.Button("New conversation", variant="secondary", size="sm", elem_id="kith-new",
                                    scale=0, min_width=150)
                chat = gr.Chatbot(
                    elem_id="kith-chat", show_label=False, height="calc(100vh - 295px)", min_height=400,
                    feedback_options=None, buttons=[], layout="bubble",
                    placeholder="**What are you in the mood for?**\n\nTell Kith something you loved, "
                                "what to avoid, or who it is for: *a thoughtful sci-fi film, nothing scary*.",
                )
                with gr.Row(elem_id="kith-composer", equal_height=True):
                    message = gr.Textbox(
                        elem_id="kith-input", show_label=False, container=False, scale=8, lines=1, max_lines=5,
                        placeholder="Message Kith…  (Enter to send)", autofocus=True,
                    )
                    send = gr.Button("Send", variant="primary", elem_id="kith-send", scale=0, min_width=110)
                status = gr.HTML("", elem_id="kith-status", js_on_load=None)

            with gr.Column(scale=2, min_width=360, elem_id="kith-side"):
                with gr.Column(elem_classes=["kith-panel"]):
                    user = gr.Dropdown(first_choices, value=GUEST, label="Chatting as", elem_id="kith-user",
                                       interactive=True, visible=identity.impersonating(kith))
                    names = catalogs.names()
                    catalog = gr.Dropdown(names, value=kith.catalog, label="Catalog", elem_id="kith-catalog",
                                          visible=len(names) > 1, interactive=True)
                with gr.Column(elem_classes=["kith-panel"]):
                    gr.HTML('<div class="kith-section-title">Recommendations</div>', js_on_load=None)
                    recommendations = gr.HTML(render_recommendations([]), elem_id="kith-recommendations",
                                              js_on_load=FEEDBACK_JS)
                with gr.Column(elem_classes=["kith-panel"]):
                    gr.HTML('<div class="kith-section-title">Your profile</div>', js_on_load=None)
                    first_view, first_json = profile_outputs(kith, Profile())
                    profile_view = gr.HTML(first_view, elem_id="kith-profile", js_on_load=None)
                    with gr.Accordion("Edit profile", open=False, elem_id="kith-profile-editor"):
                        profile_json = gr.Code(first_json, language="json", lines=12, max_lines=24,
                                               interactive=True, show_label=False, elem_id="kith-profile-json")
                        save = gr.Button("Save profile", elem_id="kith-save-profile", size="sm")
                        profile_status = gr.HTML("", elem_id="kith-profile-status", js_on_load=None)
                with gr.Column(elem_classes=["kith-panel"]):
                    gr.HTML("<div class=\"kith-section-title\">Friends' activity used</div>", js_on_load=None)
                    friends = gr.HTML(render_friends([]), elem_id="kith-friends", js_on_load=None)

        # --- handlers ---------------------------------------------------------------------

        def respond(text: str, history: list[dict[str, str]], session_id: str | None, choice: str,
                    catalog_name: str, guest: str, local_time: str, request: gr.Request) -> Iterator[tuple[Any, ...]]:
            # outputs: chat, message, history, session, recommendations, friends, profile view,
            # profile json, status
            skip = gr.skip()
            page = request.session_hash if request is not None else None
            started = restarts.get(page, 0)
            history = list(history or [])
            text = text or ""
            try:
                k = catalogs.get(catalog_name)
                pieces = k.stream(identity.user_id(k, choice, guest, request), text, session_id,
                                  context={"time": local_time} if local_time else None)
                first = next(pieces)
            except KithInputError as error:
                gr.Warning(str(error))
                yield skip, skip, skip, skip, skip, skip, skip, skip, _status(str(error))
                return
            except Exception as error:  # the page must keep working whatever failed
                gr.Warning(f"Something went wrong: {error}")
                yield skip, skip, skip, skip, skip, skip, skip, skip, _status(f"Something went wrong: {error}")
                return

            shown = [*history, {"role": "user", "content": text}]
            reply = ""
            turn: Turn | None = None
            try:
                piece: str | Turn = first
                while True:
                    if restarts.get(page, 0) != started:
                        # The person started over: drop this reply (closing the turn saves nothing).
                        # The last yield must change nothing: Gradio re-sends it when a run ends.
                        pieces.close()
                        yield (skip,) * 9
                        return
                    if isinstance(piece, Turn):
                        turn = piece
                        break
                    reply += piece
                    yield ([*shown, {"role": "assistant", "content": reply}], "", skip, skip, skip, skip, skip,
                           skip, "")
                    piece = next(pieces)
            except StopIteration:
                pass
            except Exception as error:
                gr.Warning(f"Something went wrong: {error}")
                # Nothing was saved: show the conversation as it stands and give the text back.
                yield history, text, skip, skip, skip, skip, skip, skip, _status(f"Something went wrong: {error}")
                return
            if turn is None:
                yield history, text, skip, skip, skip, skip, skip, skip, _status("The reply ended without a result.")
                return
            final = [*shown, {"role": "assistant", "content": turn.text}]
            view, raw = profile_outputs(k, turn.profile)
            yield (final, "", final, turn.session_id, render_recommendations(turn.recommendations),
                   render_friends(turn.friends_activity), view, raw, "")

        def give_feedback(session_id: str | None, choice: str, catalog_name: str, guest: str, event: gr.EventData,
                          request: gr.Request) -> tuple[Any, ...]:
            # outputs: profile view, profile json, status
            try:
                k = catalogs.get(catalog_name)
                given = k.feedback(identity.user_id(k, choice, guest, request), str(event.item_id), str(event.signal),
                                   session_id)
            except Exception as error:  # the page must keep working whatever failed
                gr.Warning(f"Feedback not saved: {error}")
                return gr.skip(), gr.skip(), _status(f"Feedback not saved: {error}")
            view, raw = profile_outputs(k, given.profile)
            return view, raw, _status(feedback_note(given.signal, k.title(given.item_id)), "ok")

        def profile_of(k: Kith, choice: str | None, guest: str | None, request: gr.Request | None) -> Profile:
            try:
                return k.profile(identity.user_id(k, choice, guest, request))
            except KithInputError:  # no one to show yet (the page is still getting its guest id)
                return Profile()

        def fresh(k: Kith, choice: str, guest: str, request: gr.Request | None) -> tuple[Any, ...]:
            # outputs: chat, history, session, recommendations, friends, profile view, json, both statuses
            view, raw = profile_outputs(k, profile_of(k, choice, guest, request))
            return ([], [], None, render_recommendations([]), render_friends([]), view, raw, "", "")

        def start_over(request: gr.Request | None) -> None:
            page = request.session_hash if request is not None else None
            restarts[page] = restarts.get(page, 0) + 1

        def new_conversation(choice: str, catalog_name: str, guest: str, request: gr.Request) -> tuple[Any, ...]:
            start_over(request)
            return fresh(catalogs.get(catalog_name), choice, guest, request)

        def change_catalog(catalog_name: str, choice: str, guest: str, request: gr.Request) -> tuple[Any, ...]:
            start_over(request)
            try:
                k = catalogs.get(catalog_name)
            except Exception as error:
                gr.Warning(f"Could not open catalog {catalog_name!r}: {error}")
                return (gr.update(value=catalogs.default), gr.skip(), *([gr.skip()] * 7),
                        _status(f"Could not open catalog {catalog_name!r}: {error}"), gr.skip())
            update = picker(k, choice)
            return (gr.skip(), update, *fresh(k, update["value"], guest, request))

        def save_profile(raw: str, choice: str, catalog_name: str, guest: str,
                         request: gr.Request) -> tuple[str, str, str]:
            try:
                profile = Profile.model_validate_json(raw or "")
                k = catalogs.get(catalog_name)
                k.set_profile(identity.user_id(k, choice, guest, request), profile)
            except ValidationError as error:
                message_text = f"Not saved: {_validation_message(error)}"
                gr.Warning(message_text)
                return gr.skip(), gr.skip(), _status(message_text)
            except Exception as error:
                gr.Warning(f"Not saved: {error}")
                return gr.skip(), gr.skip(), _status(f"Not saved: {error}")
            view, canonical = profile_outputs(k, profile)
            return view, canonical, _status("Saved. Kith uses it from your next message.", "ok")

        def on_load(choice: str, catalog_name: str, stored_guest: str, request: gr.Request) -> tuple[Any, ...]:
            # A page opened later sees catalogs, users and profiles as they are now.
            names = catalogs.names()
            if catalog_name not in names:
                catalog_name = catalogs.default
            k = catalogs.get(catalog_name)
            guest = new_guest(stored_guest)
            update = picker(k, choice)
            view, raw = profile_outputs(k, profile_of(k, update["value"], guest, request))
            return (update, gr.update(choices=names, value=catalog_name, visible=len(names) > 1), guest, view, raw)

        reset_outputs = [chat, history_state, session_state, recommendations, friends, profile_view, profile_json,
                         status, profile_status]
        gr.on(
            [message.submit, send.click], respond,
            inputs=[message, history_state, session_state, user, catalog, guest_state, browser_time],
            outputs=[chat, message, history_state, session_state, recommendations, friends, profile_view,
                     profile_json, status],
            show_progress="minimal", show_progress_on=[chat], api_name="chat", js=BROWSER_TIME_JS,
        )
        # Starting over stops a reply still being written (see `restarts`). The pickers listen
        # to `select`, not `input`: in Gradio 6 one pick can fire `input` twice, and the second
        # run carries the user picker's old value, which its new choices refuse (a cascading-
        # dropdown error, cf. gradio-app/gradio#12246).
        for trigger in (new.click, chat.clear, user.select):
            trigger(new_conversation, inputs=[user, catalog, guest_state], outputs=reset_outputs,
                    api_visibility="private")
        catalog.select(change_catalog, inputs=[catalog, user, guest_state], outputs=[catalog, user, *reset_outputs],
                       api_visibility="private")
        recommendations.feedback(give_feedback, inputs=[session_state, user, catalog, guest_state],
                                 outputs=[profile_view, profile_json, status], api_visibility="private")
        save.click(save_profile, inputs=[profile_json, user, catalog, guest_state],
                   outputs=[profile_view, profile_json, profile_status], api_name="save_profile")
        app.load(on_load, inputs=[user, catalog, guest_state],
                 outputs=[user, catalog, guest_state, profile_view, profile_json], api_visibility="private")

        def forget_page(request: gr.Request) -> None:
            restarts.pop(request.session_hash if request is not None else None, None)

        app.unload(forget_page)
    return app


def launch(kith: Kith, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Serve the UI until interrupted."""
    app = build_app(kith)
    app.launch(server_name=host, server_port=port, **launch_options(kith.config.ui))
