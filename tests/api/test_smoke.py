async def test_typename(api):
    r = await api.post("{ __typename }")
    assert r.status_code == 200
    assert r.json()["data"] == {"__typename": "Query"}


async def test_sign_up_creates_personal_team(api):
    acct = await api.sign_up("alice")
    data = await api.ok(
        "{ viewer { user { email } teams { name members { role user { email } } } } }",
        token=acct.token,
    )
    assert data["viewer"]["user"]["email"] == acct.email
    [team] = data["viewer"]["teams"]
    assert team["members"] == [{"role": "OWNER", "user": {"email": acct.email}}]
