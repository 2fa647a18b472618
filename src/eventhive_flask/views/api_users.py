"""``/api/users``: sign up, sign in, sign out, current user, and Bearer tokens."""

from __future__ import annotations

from flask import Response

from eventhive_core import SignedIn, SignIn, SignOut, SignUp
from eventhive_flask.auth import clear_token_cookie, current_identity, request_token, set_token_cookie
from eventhive_flask.bodies import parse
from eventhive_flask.responses import json_response
from eventhive_flask.schemas import (
    CredentialsIn,
    CurrentUser,
    CurrentUserOut,
    EmptyOut,
    SignUpIn,
    TokenOut,
    UserOut,
)
from eventhive_flask.state import current_hive
from eventhive_flask.views.blueprint import api


def _signed_in(result: SignedIn, status: int) -> Response:
    response = json_response(UserOut(email=result.user.email, id=result.user.id), status)
    set_token_cookie(response, result.token.token, result.token.claims.expires_at)
    return response


@api.post("/users/signup", endpoint="signup")
def signup() -> Response:
    """Create an account: 201 ``{email, id}`` and the token in the cookie."""
    body = parse(SignUpIn)
    return _signed_in(current_hive.handle(SignUp(email=body.email, password=body.password)), 201)


@api.post("/users/signin", endpoint="signin")
def signin() -> Response:
    """Sign in: 200 ``{email, id}`` and the token in the cookie."""
    body = parse(CredentialsIn)
    return _signed_in(current_hive.handle(SignIn(email=body.email, password=body.password)), 200)


@api.post("/users/signout", endpoint="signout")
def signout() -> Response:
    """Sign out: 200 ``{}``, the cookie cleared and the token revoked until it would have expired.

    Whatever the body, it is not read: signing out always works (the CSRF rule aside).
    """
    token = request_token()
    if token is not None:
        current_hive.handle(SignOut(token=token))
    response = json_response(EmptyOut())
    clear_token_cookie(response)
    return response


@api.get("/users/currentuser", endpoint="currentuser")
def currentuser() -> Response:
    """Who is signed in: ``{"currentUser": {id, email, iat}}`` or ``{"currentUser": null}``."""
    identity = current_identity()
    if identity is None:
        return json_response(CurrentUserOut(current_user=None))
    iat = int(identity.claims.issued_at.timestamp())
    return json_response(CurrentUserOut(current_user=CurrentUser(id=identity.user_id, email=identity.email, iat=iat)))


@api.post("/users/tokens", endpoint="tokens")
def tokens() -> Response:
    """Trade email and password for a Bearer token (clients without cookies): ``{token, tokenType, expiresAt}``."""
    body = parse(CredentialsIn)
    result = current_hive.handle(SignIn(email=body.email, password=body.password))
    return json_response(TokenOut.from_issued(result.token))
