"""Katello's full pushes, over and over, while fifty clients get tokens and pull.

A capsule sync replaces every table; readers must never see a grant that exists before and
after it disappear, nobody may get a 5xx, and nothing may deadlock (pushes, first logins that
refresh grants, and token requests all meet in the same tables and locks).
"""

import threading
from concurrent.futures import ThreadPoolExecutor

from pulp_katello_gateway.tests.functional.gateway_http import push_url

CLIENTS = 50
PULLS_PER_CLIENT = 3  # at least; clients go on pulling until PUSHES pushes are through
PUSHES = 3
USERS = 5
NEWCOMERS = 5
CHURN = 4


def test_pushes_while_fifty_clients_pull(pulp, katello, gateway, gateway_world, new_user):
    repos, digest = gateway_world.repos, gateway_world.digest
    users = [new_user(tag="load") for _ in range(USERS)]
    for user in users:  # logged in before the load: their grant exists before and after
        assert gateway.pull(repos["granted"], user["auth"])[1].status_code == 200
    newcomers = [new_user(tag="first") for _ in range(NEWCOMERS)]  # log in during pushes
    churn = [f"{gateway_world.prefix}/churn-{index}" for index in range(CHURN)]

    clients_done, pusher_stopped = threading.Event(), threading.Event()
    pushes, push_errors = [], []

    def change_katello(round_):
        """Every push changes something else: repositories come and go, flip public, and
        the users' other grants change; their grant on ``granted`` never does."""
        for index, name in enumerate(churn):
            if (round_ + index) % 3 == 0:
                katello.remove_repository(name)
            else:
                katello.add_repository(name, auth_required=(round_ + index) % 2 == 0)
        for number, user in enumerate(users):
            extra = [name for index, name in enumerate(churn) if (round_ + number + index) % 2]
            katello.set_user_repositories(user["login"], [repos["granted"], *extra])

    def pusher():
        round_ = 0
        try:
            while not clients_done.is_set():
                change_katello(round_)
                steps = katello.push(push_url(pulp.api_url), auth=pulp.admin_auth,
                                     verify=str(pulp.ca_file), timeout=120)
                pushes.append([(step.path, step.status) for step in steps])
                round_ += 1
        except Exception as exc:  # reported below; the clients must not wait for more pushes
            push_errors.append(exc)
        finally:
            pusher_stopped.set()

    def client(number):
        seen = []
        if number < NEWCOMERS:
            first = gateway.token(auth=newcomers[number]["auth"])
            seen.append(("first login", first.status_code, None, None))
        pulled = 0
        while pulled < PULLS_PER_CLIENT or (len(pushes) < PUSHES
                                            and not pusher_stopped.is_set()):
            pulled += 1
            if number % 3 == 0:
                who, repository, auth = "anonymous", repos["public"], None
            else:
                user = users[number % USERS]
                who, repository, auth = user["login"], repos["granted"], user["auth"]
            token, manifest = gateway.pull(repository, auth)
            seen.append((
                who,
                token.status_code,
                manifest.status_code if manifest is not None else None,
                manifest.headers.get("Docker-Content-Digest") if manifest is not None else None,
            ))
        return seen

    push_thread = threading.Thread(target=pusher, name="katello-pushes")
    push_thread.start()
    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            futures = [pool.submit(client, number) for number in range(CLIENTS)]
            results = [seen for future in futures for seen in future.result(timeout=600)]
    finally:
        clients_done.set()
        push_thread.join(timeout=600)
    assert not push_thread.is_alive(), "pushes did not finish"
    assert push_errors == []

    assert len(pushes) >= PUSHES
    failed_steps = [step for steps in pushes for step in steps if step[1] != 200]
    assert failed_steps == []
    first_logins = [seen for seen in results if seen[0] == "first login"]
    assert [status for _, status, _, _ in first_logins] == [200] * NEWCOMERS
    pulls = [seen for seen in results if seen[0] != "first login"]
    assert len(pulls) >= CLIENTS * PULLS_PER_CLIENT
    denied = [seen for seen in pulls if seen[1:] != (200, 200, digest)]
    assert denied == []

    # After the next sync the newcomers have their grants too.
    katello.push(push_url(pulp.api_url), auth=pulp.admin_auth, verify=str(pulp.ca_file))
    for newcomer in newcomers:
        assert gateway.pull(repos["granted"], newcomer["auth"])[1].status_code == 200


FIRST_LOGINS_AT_ONCE = 8


def test_first_logins_at_once_each_bring_their_users_grants(gateway, gateway_world, new_user):
    """Cluster nodes sharing one pull secret log in for the first time at the same moment, for
    several users at once: every login refreshes its user's grants from Katello (none is turned
    away as if a capsule sync ran), so every pull gets the manifest."""
    repository, digest = gateway_world.repos["granted"], gateway_world.digest
    users = [new_user(tag="herd") for _ in range(3)]
    logins = [user for user in users for _ in range(FIRST_LOGINS_AT_ONCE)]
    start = threading.Barrier(len(logins))

    def first_pull(user):
        start.wait(timeout=60)
        token, manifest = gateway.pull(repository, user["auth"])
        return (user["login"], token.status_code,
                manifest.status_code if manifest is not None else None,
                manifest.headers.get("Docker-Content-Digest") if manifest is not None else None)

    with ThreadPoolExecutor(len(logins)) as pool:
        pulls = list(pool.map(first_pull, logins))
    assert pulls == [(user["login"], 200, 200, digest) for user in logins]
