"""Registry tokens nobody issued are refused by the real registry, and so are real tokens used
beyond what they grant.

The plugin issues pulp_container's JWTs and pulp_container's registry views check them. Here an
attacker (alice, a Foreman user) wants bob's repository: every forgery is built from a genuine
token of hers, and must get 401 wherever a token is checked. Each check of the registry
(signature, key, algorithm, audience, issuer, expiry, ``access``) is shown to hold on its own by
tokens signed with the stack's real key that differ from a valid one in that one claim only.
"""

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from pulp_katello_gateway.tests.functional.gateway_http import OCI_MANIFEST


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json_b64(value):
    return _b64(json.dumps(value, separators=(",", ":")).encode())


@pytest.fixture(scope="module")
def tokens_world(make_world, pulp, gateway):
    """bob's repository (with the image) and a genuine token of alice's for her own one."""
    world = make_world("forged", {"alices": True, "bobs": True},
                       users={"alice": ["alices"], "bob": ["bobs"]})
    users = {name: world.users[name]["auth"] for name in ("alice", "bob")}
    alices = world.repos["alices"]
    token = gateway.ok_token(f"repository:{alices}:pull", auth=users["alice"])
    keys = pulp.state / "secrets"
    return {
        "alices": alices,
        "bobs": world.repos["bobs"],
        "users": users,
        "alice_token": token,
        "private_key": (keys / "token_private_key.pem").read_bytes(),
        "public_key": (keys / "token_public_key.pem").read_bytes(),
    }


def claims_for(world, repository):
    """alice's genuine claims, edited to grant pulling ``repository`` and the catalog; with
    ``repository=None`` the empty access of a login token (which opens ``/v2/``)."""
    claims = jwt.decode(world["alice_token"], options={"verify_signature": False})
    claims["access"] = [
        {"type": "repository", "name": repository, "actions": ["pull"]},
        {"type": "registry", "name": "catalog", "actions": ["*"]},
    ] if repository else []
    now = int(time.time())
    claims.update(iat=now, nbf=now, exp=now + 300)
    return claims


def signed(world, claims, key=None, algorithm="ES256"):
    header = jwt.get_unverified_header(world["alice_token"])
    return jwt.encode(claims, key or world["private_key"], algorithm=algorithm,
                      headers={"kid": header["kid"]})


def forge(world, how, repository):
    """A token granting alice ``repository``, made the way ``how`` says."""
    claims = claims_for(world, repository)
    genuine_header, genuine_payload, genuine_signature = world["alice_token"].split(".")
    if how == "tampered signature":
        token = signed(world, claims)
        head, payload, signature = token.split(".")
        raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
        raw[len(raw) // 2] ^= 0x01
        return f"{head}.{payload}.{_b64(bytes(raw))}"
    if how == "claims swapped under a genuine signature":
        return f"{genuine_header}.{_json_b64(claims)}.{genuine_signature}"
    if how == "signed with another key":
        return signed(world, claims, key=ec.generate_private_key(ec.SECP256R1()))
    if how == "alg none":
        return f"{_json_b64({'alg': 'none', 'typ': 'JWT'})}.{_json_b64(claims)}."
    if how == "HS256 keyed with the public key":
        head = _json_b64({"alg": "HS256", "typ": "JWT"})
        body = f"{head}.{_json_b64(claims)}"
        mac = hmac.new(world["public_key"], body.encode(), hashlib.sha256).digest()
        return f"{body}.{_b64(mac)}"
    # The stack's real key, one claim wrong: each check holds on its own.
    if how == "other audience":
        claims["aud"] = "registry.attacker.example"
    elif how == "other issuer":
        claims["iss"] = "https://attacker.example/token/"
    elif how == "expired":
        now = int(time.time())
        claims.update(iat=now - 7200, nbf=now - 7200, exp=now - 3600)
    elif how == "not yet valid":
        now = int(time.time())
        claims.update(iat=now + 3600, nbf=now + 3600, exp=now + 7200)
    else:
        raise ValueError(how)
    return signed(world, claims)


FORGERIES = [
    "tampered signature",
    "claims swapped under a genuine signature",
    "signed with another key",
    "alg none",
    "HS256 keyed with the public key",
    "other audience",
    "other issuer",
    "expired",
    "not yet valid",
]


def registry_requests(world):
    """(label, path) of the registry requests a token is checked on."""
    bobs = world["bobs"]
    return [
        ("manifest", f"/v2/{bobs}/manifests/latest"),
        ("tags", f"/v2/{bobs}/tags/list"),
        ("blob", f"/v2/{bobs}/blobs/sha256:{'0' * 64}"),
        ("catalog", "/v2/_catalog"),
    ]


def answers(gateway, world, token, login_token):
    got = {label: get(gateway, path, token).status_code
           for label, path in registry_requests(world)}
    got["ping"] = get(gateway, "/v2/", login_token).status_code
    return got


def get(gateway, path, token):
    return gateway.get(path, token, accept=OCI_MANIFEST if "/manifests/" in path else None)


def test_a_valid_token_for_bobs_repository_pulls_it(gateway, tokens_world):
    """The control for the forgeries below: correct claims, real key → the registry serves."""
    token = signed(tokens_world, claims_for(tokens_world, tokens_world["bobs"]))
    login_token = signed(tokens_world, claims_for(tokens_world, None))
    assert answers(gateway, tokens_world, token, login_token) == {
        "manifest": 200, "tags": 200, "blob": 404, "catalog": 200, "ping": 200,
    }
    bobs_own = gateway.ok_token(f"repository:{tokens_world['bobs']}:pull",
                                auth=tokens_world["users"]["bob"])
    assert gateway.manifest(tokens_world["bobs"], bobs_own).status_code == 200


@pytest.mark.parametrize("how", FORGERIES)
def test_forged_tokens_are_refused_everywhere(gateway, tokens_world, secret_registry, how):
    token = forge(tokens_world, how, tokens_world["bobs"])
    login_token = forge(tokens_world, how, None)
    secret_registry.add(token, login_token)
    got = answers(gateway, tokens_world, token, login_token)
    assert got == dict.fromkeys(got, 401)


def test_forged_host_claim_lists_nothing(gateway, tokens_world, gateway_world):
    """A catalog token naming a host, signed with another key, is no host's."""
    claims = claims_for(tokens_world, "catalog")
    claims.update(sub="", katello_host=gateway_world.hosts["host"],
                  access=[{"type": "registry", "name": "catalog", "actions": ["*"]}])
    token = signed(tokens_world, claims, key=ec.generate_private_key(ec.SECP256R1()))
    assert get(gateway, "/v2/_catalog", token).status_code == 401


def test_alices_token_never_pulls_bobs_repository(gateway, tokens_world):
    alice = tokens_world["users"]["alice"]
    bobs, alices = tokens_world["bobs"], tokens_world["alices"]
    # Asking for it gets a token without it: the registry refuses.
    token = gateway.ok_token(f"repository:{bobs}:pull", auth=alice)
    assert gateway.access(token) == {bobs: []}
    assert gateway.manifest(bobs, token).status_code == 401
    # Her token for her own repository does not open bob's.
    own = gateway.ok_token(f"repository:{alices}:pull", auth=alice)
    assert gateway.manifest(alices, own).status_code == 200
    for label, path in registry_requests(tokens_world)[:3]:
        assert get(gateway, path, own).status_code == 401, label
    # Both at once: she gets hers and not his.
    both = gateway.ok_token(f"repository:{alices}:pull", f"repository:{bobs}:pull", auth=alice)
    assert gateway.access(both) == {alices: ["pull"], bobs: []}
    assert gateway.manifest(bobs, both).status_code == 401
