"""`/papers follow|follows|unfollow` and the follows list's Remove button (one domain call each)."""

from __future__ import annotations

from functools import partial

from bot import follows
from bot.render_blocks import follows as views
from handlers.common import Click, ack_now, failure_reply, user_text_on_failure, who


@user_text_on_failure
def follow_command(services, command: dict, args: str) -> dict:
    return views.follow_confirmation(follows.follow(services.store.session_factory, **who(command), query=args))


@user_text_on_failure
def follows_command(services, command: dict, args: str) -> dict:
    return views.follows_message(follows.follows_of(services.store.session_factory, **who(command)))


@user_text_on_failure
def unfollow_command(services, command: dict, args: str) -> dict:
    return views.unfollow_confirmation(follows.unfollow(services.store.session_factory, **who(command), which=args))


def remove_clicked(services, body: dict, respond) -> None:
    """Remove in the user's own (ephemeral) `/papers follows`: redraw the list without it."""
    click = Click.from_body(body)
    factory = services.store.session_factory
    try:
        follows.unfollow(factory, **who(click), which=click.value)
        reply = views.follows_message(follows.follows_of(factory, **who(click)))
    except Exception as err:  # noqa: BLE001 - becomes a note to the clicker; unexpected ones are logged
        reply = failure_reply(err, doing="removing a follow")
    respond(**{**reply, "replace_original": True})


def register(app, services) -> None:
    app.action(views.UNFOLLOW)(ack=ack_now, lazy=[partial(remove_clicked, services)])
