"""Sign up, sign in, sign out, ban, and authenticating a token.

The Hive that holds the signing key owns the users: it signs them up and in and checks every
token against its storage. A Hive with the public key alone (a service of a split platform)
cannot issue tokens; it trusts a verified token for who the user is, as the original's services
did, and refuses revoked tokens and banned users through its denylist, which ``user:signed_out``
and ``user:banned`` feed (``service_layer.denylist_feed``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from eventhive_core.domain.commands import BanUser, SignIn, SignOut, SignUp
from eventhive_core.domain.errors import (
    InvalidCredentials,
    NotAuthorized,
    NotFound,
    SigningKeyMissing,
    ValidationFailed,
)
from eventhive_core.domain.events import UserBanned, UserSignedOut
from eventhive_core.domain.ids import UserId, is_valid_id, new_id
from eventhive_core.domain.read_models import UserView
from eventhive_core.domain.user import User, normalize_email
from eventhive_core.domain.validation import email_errors, password_errors
from eventhive_core.ports.auth import IssuedToken, TokenClaims
from eventhive_core.ports.storage import TokenStanding, TokenStandings, UnitOfWork
from eventhive_core.service_layer.publishing import record
from eventhive_core.service_layer.services import Services


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A user and the token just issued to them."""

    user: UserView
    token: IssuedToken


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a valid token belongs to."""

    user_id: str
    email: str
    claims: TokenClaims


def _view(user: User) -> UserView:
    return UserView(user.id, user.email, user.created_at, user.is_banned)


def _can_issue(services: Services) -> bool:
    # A token service written before `can_issue` joined the port always held its signing key.
    return bool(getattr(services.tokens, "can_issue", True))


def require_known_user(uow: UnitOfWork, services: Services, user_id: str) -> None:
    """Refuse a command for a user this Hive does not know, where it keeps the users.

    A Hive holding the signing key keeps the accounts, so an acting user must be one of them. A
    Hive with the public key alone (a service of a split platform) keeps none: it acts for the
    identity a verified token gave (``authenticate`` checked it, bans and sign-outs included),
    as the original's services trusted the token.

    An id this process has already seen stored (authentication read it a moment ago, as a
    rule) is not read again: accounts are never deleted (see ``KnownUsers``).

    Raises:
        NotAuthorized: This Hive keeps the users and has no user with this id.
    """
    if not _can_issue(services) or user_id in services.known_users:
        return
    if uow.users.get(user_id) is None:
        raise NotAuthorized()
    services.known_users.add(user_id)


def _require_signing_key(services: Services) -> None:
    # Refuse before anything is written: an account whose sign-up answered an error must not exist.
    if not _can_issue(services):
        raise SigningKeyMissing()


def sign_up(cmd: SignUp, services: Services) -> SignedIn:
    """Create an account (emails are unique, compared lower-cased) and sign it in.

    Raises:
        SigningKeyMissing: This Hive verifies tokens with the public key alone.
    """
    _require_signing_key(services)
    problems = email_errors(cmd.email) + password_errors(cmd.password, signing_up=True)
    if problems:
        raise ValidationFailed(problems)
    now = services.clock.now()
    # Hash before opening the unit: scrypt is slow on purpose and must not hold a transaction open.
    user = User(UserId(new_id()), normalize_email(cmd.email), services.hasher.hash(cmd.password), created_at=now)
    with services.storage.unit_of_work() as uow:
        uow.users.add(user)  # the storage refuses a taken email, even under a race
        uow.commit()
    return SignedIn(_view(user), services.tokens.issue(user.id, user.email, now))


def sign_in(cmd: SignIn, services: Services) -> SignedIn:
    """Check credentials in constant time and issue a token; banned users cannot sign in.

    Raises:
        SigningKeyMissing: This Hive verifies tokens with the public key alone.
    """
    _require_signing_key(services)
    problems = email_errors(cmd.email) + password_errors(cmd.password, signing_up=False)
    if problems:
        raise ValidationFailed(problems)
    with services.storage.unit_of_work() as uow:
        user = uow.users.get_by_email(normalize_email(cmd.email))
    if user is None:
        # Spend the same time as a real check, so response times do not reveal which emails exist.
        services.hasher.verify(cmd.password, services.dummy_password_hash())
        raise InvalidCredentials()
    if not services.hasher.verify(cmd.password, user.password_hash) or user.is_banned:
        raise InvalidCredentials()
    return SignedIn(_view(user), services.tokens.issue(user.id, user.email, services.clock.now()))


def sign_out(cmd: SignOut, services: Services) -> None:
    """Revoke the token until it would have expired; a bad token is simply ignored.

    Publishes ``user:signed_out`` (the first time only), so every service's denylist refuses the
    token too.
    """
    try:
        claims = services.tokens.verify(cmd.token, services.clock.now())
    except NotAuthorized:
        return
    with services.storage.unit_of_work() as uow:
        if uow.revoked_tokens.is_revoked(claims.jti):
            return
        uow.revoked_tokens.revoke(claims.jti, claims.expires_at)
        record(uow, services, UserSignedOut(user_id=claims.user_id, token_id=claims.jti, expires_at=claims.expires_at))
        uow.commit()


def ban_user(cmd: BanUser, services: Services) -> UserView:
    """Ban a user: publishes ``user:banned``; banning twice changes nothing."""
    with services.storage.unit_of_work() as uow:
        user = uow.users.get_by_email(normalize_email(cmd.email))
        if user is None:
            raise NotFound()
        if user.is_banned:
            return _view(user)
        banned = replace(user, banned_at=services.clock.now())
        uow.users.save(banned)
        assert banned.banned_at is not None
        record(uow, services, UserBanned(user_id=banned.id, banned_at=banned.banned_at))
        uow.commit()
    return _view(banned)


def _token_standing(services: Services, jti: str, user_id: str) -> TokenStanding:
    # Every authenticated request comes here: one read where the storage offers it.
    if isinstance(services.storage, TokenStandings):
        return services.storage.token_standing(jti, user_id)
    with services.storage.unit_of_work() as uow:
        revoked = uow.revoked_tokens.is_revoked(jti)
        return TokenStanding(None if revoked else uow.users.get(user_id), revoked)


def authenticate(token: str, services: Services) -> Identity:
    """Return who ``token`` belongs to, or raise NotAuthorized.

    Refused: bad signature, wrong algorithm, expired, revoked by sign-out, unknown or banned user,
    and a token or user on the denylist. The ban and the revocation are read from storage, so
    they hold in every process sharing it at once; the denylist carries them to services with
    storage of their own. A Hive with the public key alone trusts a verified token whose user it
    does not store (the users live with the service that signs).

    Raises:
        NotAuthorized: The token is refused, for any of the reasons above.
        TransientStorageError: The storage or the denylist cannot answer right now.
    """
    claims = services.tokens.verify(token, services.clock.now())
    if not is_valid_id(claims.user_id):
        raise NotAuthorized()
    if services.denylist is not None and services.denylist.is_denied(claims.jti, claims.user_id):
        raise NotAuthorized()
    standing = _token_standing(services, claims.jti, claims.user_id)
    if standing.revoked:
        raise NotAuthorized()
    user = standing.user
    if user is None:
        if _can_issue(services):
            raise NotAuthorized()
        return Identity(claims.user_id, claims.email, claims)
    if user.is_banned:
        raise NotAuthorized()
    services.known_users.add(user.id)
    return Identity(user.id, user.email, claims)
