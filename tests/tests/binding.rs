//! Recipient binding, "only @bob can open it": secrets bound to a Slack or Discord user, created
//! through the API, opened after signing in with fake Slack (OpenID Connect) and Discord (OAuth2)
//! servers on loopback that are as strict as the real ones (`seecret_tests::FakeOAuth`). The
//! sign-in runs over plain HTTP here, and in headless Chromium at the end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use seecret_core::client::{Client, ShareOptions};
use seecret_core::crypto::{self, RevealProof};
use seecret_core::link::Link;
use seecret_core::model::{PlatformIdentity, Provider};
use seecret_tests::{
    FakeOAuth, Receiver, Server, ServerOptions, Spoil, eventually, http, repo_path, rpc, run,
    sign_in, sign_in_finish, sign_in_start, ticket_in,
};
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(15);

fn bob_on_slack() -> PlatformIdentity {
    PlatformIdentity {
        provider: Provider::Slack,
        team: Some("T0SEECRET1".into()),
        user: "U0BOB1234".into(),
        name: Some("Bob Example".into()),
    }
}

fn mallory_on_slack() -> PlatformIdentity {
    PlatformIdentity {
        user: "U0MALLORY1".into(),
        name: Some("Mallory".into()),
        ..bob_on_slack()
    }
}

fn bob_on_discord() -> PlatformIdentity {
    PlatformIdentity {
        provider: Provider::Discord,
        team: None,
        user: "283712835492233217".into(),
        name: Some("Bob Example".into()),
    }
}

fn mallory_on_discord() -> PlatformIdentity {
    PlatformIdentity {
        user: "283712835492239999".into(),
        name: Some("Mallory".into()),
        ..bob_on_discord()
    }
}

/// What the sender binds to: the recipient's ids and the name the sender knows them by.
fn bound(who: &PlatformIdentity) -> Value {
    let mut v = serde_json::to_value(who).unwrap();
    v["name"] = json!("@bob");
    v
}

/// A server whose sign-in goes to `fakes`, each with the server's callback registered, and that
/// may send webhooks to loopback.
fn server_for(fakes: &[&FakeOAuth], extra: &[(&str, &str)]) -> Server {
    let mut opts = ServerOptions::default().env("SEECRET_WEBHOOK_ALLOW_PRIVATE", "127.0.0.1/32");
    for fake in fakes {
        for (k, v) in fake.env() {
            opts = opts.env(&k, v);
        }
    }
    for (k, v) in extra {
        opts = opts.env(k, v);
    }
    let server = Server::start_with(opts);
    for fake in fakes {
        fake.register_server(&server.base);
    }
    server
}

async fn post(server: &Server, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    let mut req = http().post(format!("{}{path}", server.base)).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

async fn get(server: &Server, path: &str) -> (u16, Value) {
    let resp = http()
        .get(format!("{}{path}", server.base))
        .bearer_auth(server.token())
        .send()
        .await
        .unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

/// Creates a bound text secret; returns its id, link and key.
async fn create_bound(server: &Server, to: Value, extra: Value) -> (String, String, String) {
    let mut body = json!({"content": "the vault code is 4-8-15-16", "bound_to": to});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (status, info) = post(server, "/v1/secrets", Some(server.token()), body).await;
    assert_eq!(status, 201, "{info}");
    let url = info["url"].as_str().unwrap().to_string();
    let key = url.split('#').nth(1).unwrap().to_string();
    (info["id"].as_str().unwrap().to_string(), url, key)
}

fn proof(key: &str) -> String {
    RevealProof::of_key(&crypto::SecretKey::from_base64url(key).unwrap())
        .to_base64url()
        .to_string()
}

async fn status(server: &Server, id: &str, key: &str, ticket: Option<&str>) -> (u16, Value) {
    let mut body = json!({"proof": proof(key)});
    if let Some(t) = ticket {
        body["ticket"] = json!(t);
    }
    post(server, &format!("/v1/secrets/{id}/status"), None, body).await
}

async fn reveal(server: &Server, id: &str, key: &str, ticket: Option<&str>) -> (u16, Value) {
    let mut body = json!({"key": key});
    if let Some(t) = ticket {
        body["ticket"] = json!(t);
    }
    post(server, &format!("/v1/secrets/{id}/reveal"), None, body).await
}

/// (views left, views in the log) as the owner sees them.
async fn owner_sees(server: &Server, id: &str) -> (u64, usize) {
    let (s, info) = get(server, &format!("/v1/secrets/{id}")).await;
    assert_eq!(s, 200, "{info}");
    (
        info["views_remaining"].as_u64().unwrap(),
        info["view_log"].as_array().unwrap().len(),
    )
}

fn code_of(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_bound_secret_carries_its_binding_through_every_create_and_read_of_the_api() {
    let (slack, discord) = (FakeOAuth::slack().await, FakeOAuth::discord().await);
    let server = server_for(&[&slack, &discord], &[]);
    let (id, _, key) = create_bound(&server, bound(&bob_on_slack()), json!({"views": 2})).await;
    let expected = bound(&bob_on_slack());
    let (_, info) = get(&server, &format!("/v1/secrets/{id}")).await;
    assert_eq!(info["bound_to"], expected);
    let (_, list) = get(&server, "/v1/secrets").await;
    assert_eq!(list["seecrets"][0]["bound_to"], expected);

    // The product page's endpoint, a file upload (the binding as a JSON field) and the typed client.
    let (s, _, body) = rpc(
        &server.base,
        Some(server.token()),
        json!({"operation": "create_seecret", "content": "x", "bound_to": bound(&bob_on_discord())}),
    )
    .await;
    assert_eq!(
        (s, &body["bound_to"]),
        (200, &bound(&bob_on_discord())),
        "{body}"
    );
    let form = reqwest::multipart::Form::new()
        .text("bound_to", bound(&bob_on_discord()).to_string())
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"id_ed25519".to_vec()).file_name("key"),
        );
    let resp = http()
        .post(format!("{}/v1/secrets", server.base))
        .bearer_auth(server.token())
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let file: Value = resp.json().await.unwrap();
    assert_eq!(file["bound_to"], bound(&bob_on_discord()));
    let shared = server
        .client()
        .share_to(
            b"from the client",
            ShareOptions::default(),
            Some(bob_on_slack()),
        )
        .await
        .unwrap();
    assert_eq!(shared.info.bound_to, Some(bob_on_slack()));

    // Fixed once created: an update that names it is refused and changes nothing.
    let resp = http()
        .patch(format!("{}/v1/secrets/{id}", server.base))
        .bearer_auth(server.token())
        .json(&json!({"bound_to": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("bound_to"));
    assert_eq!(
        get(&server, &format!("/v1/secrets/{id}")).await.1["bound_to"],
        expected
    );

    // Malformed bindings: a clear 400 naming the field, and nothing is created.
    let before = get(&server, "/v1/secrets?limit=100").await.1["seecrets"]
        .as_array()
        .unwrap()
        .len();
    for (to, says) in [
        (json!({"provider": "slack", "user": "U0BOB1234"}), "team"),
        (
            json!({"provider": "slack", "team": "T0SEECRET1", "user": "bob"}),
            "member id",
        ),
        (json!({"provider": "discord", "user": "@bob"}), "snowflake"),
        (
            json!({"provider": "discord", "team": "T0SEECRET1", "user": "283712835492233217"}),
            "only for Slack",
        ),
        (
            json!({"provider": "irc", "user": "bob"}),
            "expected `slack` or `discord`",
        ),
        (
            json!({"provider": "slack", "team": "T0SEECRET1", "user": "U0BOB1234", "email": "b@x"}),
            "email",
        ),
    ] {
        let (s, body) = post(
            &server,
            "/v1/secrets",
            Some(server.token()),
            json!({"content": "x", "bound_to": to}),
        )
        .await;
        assert_eq!(s, 400, "{to}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{to}: {message}");
    }
    let after = get(&server, "/v1/secrets?limit=100").await.1["seecrets"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(after, before);

    // The link alone, even with its key, asks to sign in and says whom it is for; nothing used.
    let (s, body) = status(&server, &id, &key, None).await;
    assert_eq!((s, code_of(&body)), (403, "sign_in_required"), "{body}");
    assert_eq!(body["error"]["bound_to"], expected);
    let (s, body) = reveal(&server, &id, &key, None).await;
    assert_eq!((s, code_of(&body)), (403, "sign_in_required"), "{body}");
    assert_eq!(owner_sees(&server, &id).await, (2, 0));
    // The typed client gets the same answer, and the command line says what to do.
    let link = format!("{}/s/{id}#{key}", server.base);
    let err = Client::reveal_link(&Link::parse(&link).unwrap(), None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("sign_in_required"));
    let (code, _, stderr) = run(
        Command::new(seecret_tests::seecret_bin())
            .arg("reveal")
            .arg(&link),
        T,
    );
    assert_ne!(code, 0);
    assert!(
        stderr.contains("open the link in a browser, which asks them to sign in"),
        "{stderr}"
    );
    assert_eq!(owner_sees(&server, &id).await, (2, 0));
}

#[tokio::test]
async fn binding_to_a_platform_the_server_cannot_sign_in_with_is_refused_at_creation() {
    let slack = FakeOAuth::slack().await;
    for (server, refused, offered) in [
        (
            server_for(&[], &[]),
            vec![bob_on_slack(), bob_on_discord()],
            vec![Value::Null],
        ),
        (
            server_for(&[&slack], &[]),
            vec![bob_on_discord()],
            vec![json!("slack"), Value::Null],
        ),
    ] {
        for who in refused {
            let (s, body) = post(
                &server,
                "/v1/secrets",
                Some(server.token()),
                json!({"content": "x", "bound_to": bound(&who)}),
            )
            .await;
            assert_eq!(s, 400, "{body}");
            assert_eq!(body["error"]["field"], "bound_to");
            let var = match who.provider {
                Provider::Slack => "SEECRET_SLACK_CLIENT_ID",
                Provider::Discord => "SEECRET_DISCORD_CLIENT_ID",
            };
            assert!(
                body["error"]["message"].as_str().unwrap().contains(var),
                "{body}"
            );
            // Its sign-in page says it is not available.
            let resp = seecret_tests::browserless()
                .get(format!(
                    "{}/auth/{}/start?secret={}",
                    server.base,
                    who.provider.as_str(),
                    uuid::Uuid::now_v7()
                ))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 404);
            assert!(resp.text().await.unwrap().contains("not available"));
        }
        // The OpenAPI document says exactly what this server accepts.
        let doc: Value = http()
            .get(format!("{}/v1/openapi.json", server.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let variants: Vec<Value> =
            doc["components"]["schemas"]["CreateSecret"]["properties"]["bound_to"]["oneOf"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["properties"]["provider"]["enum"][0].clone())
                .collect();
        assert_eq!(variants, offered);
    }
}

/// The recipient signs in over HTTP and opens the secret once; who they are goes to the view
/// log and the webhook.
async fn the_recipient_signs_in_and_opens_it_once(
    fake: &FakeOAuth,
    bob: PlatformIdentity,
    mallory: PlatformIdentity,
) {
    let hook = Receiver::start(|_| 200).await;
    // Request spans at debug too: the callback's URL holds the platform's one-time code.
    let server = server_for(
        &[fake],
        &[(
            "SEECRET_LOG",
            "info,seecret=debug,seecret_core=debug,seecret_server=debug,tower_http=debug",
        )],
    );
    let provider = bob.provider.as_str();
    let (id, _, key) = create_bound(
        &server,
        bound(&bob),
        json!({"views": 2, "webhook_url": hook.url}),
    )
    .await;
    fake.sign_in_as(bob.clone());
    let run = sign_in(&server.base, provider, &id).await;
    assert_eq!(run.status, 200, "{}", run.page);
    assert!(
        run.page.contains(&format!(
            "Signed in with {} as Bob Example",
            bob.provider.label()
        )),
        "{}",
        run.page
    );
    let ticket = run.ticket.clone().unwrap();
    // The ticket is in the page, never in a URL.
    assert!(!run.callback.contains(&ticket));
    assert!(fake.calls().iter().all(|c| !c.query.contains(&ticket)));

    // What the platform received: an exact redirect URI in both requests, state, PKCE, and for
    // Slack a nonce and the OpenID scopes.
    let redirect = format!("{}/auth/{provider}/callback", server.base);
    let authorize = &fake.calls_to("authorize")[0];
    let q: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(authorize.query.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(q["redirect_uri"], redirect);
    assert_eq!(q["code_challenge_method"], "S256");
    let came_back = url::Url::parse(&run.callback).unwrap();
    let state_back = came_back
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1;
    assert_eq!(state_back, q["state"].as_str(), "the state round-trips");
    let token_call = fake
        .calls()
        .into_iter()
        .find(|c| c.method == "POST")
        .unwrap();
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(&token_call.body)
            .into_owned()
            .collect();
    assert_eq!(form["redirect_uri"], redirect);
    assert_eq!(form["code_verifier"].len(), 43);
    match bob.provider {
        Provider::Slack => {
            assert_eq!(q["scope"], "openid profile");
            assert!(!q["nonce"].is_empty());
        }
        Provider::Discord => {
            assert_eq!(q["scope"], "identify");
            assert!(
                token_call
                    .header("authorization")
                    .unwrap()
                    .starts_with("Basic ")
            );
        }
    }

    // Checked, not used, by the status call; used by the reveal.
    let (s, body) = status(&server, &id, &key, Some(&ticket)).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["bound_to"], bound(&bob));
    assert_eq!(body["views_remaining"], 2);
    let (s, body) = reveal(&server, &id, &key, Some(&ticket)).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["content"], "the vault code is 4-8-15-16");
    let (s, body) = reveal(&server, &id, &key, Some(&ticket)).await;
    assert_eq!((s, code_of(&body)), (403, "sign_in_required"), "{body}");
    assert_eq!(owner_sees(&server, &id).await, (1, 1));
    let (_, info) = get(&server, &format!("/v1/secrets/{id}")).await;
    assert_eq!(
        info["view_log"][0]["viewer"],
        serde_json::to_value(&bob).unwrap(),
        "the owner sees who revealed it"
    );
    let viewed = hook.wait_for(1, T).await;
    let event = viewed[0].json();
    assert_eq!(event["type"], "seecret.viewed");
    assert_eq!(event["viewer"]["user"], bob.user.as_str());

    // A ticket that is not one, and one for another secret, count for nothing.
    let forged = crypto::SignInTicket::generate().to_base64url().to_string();
    let (s, body) = reveal(&server, &id, &key, Some(&forged)).await;
    assert_eq!((s, code_of(&body)), (403, "sign_in_required"), "{body}");
    let (other, _, _) = create_bound(&server, bound(&bob), json!({})).await;
    let elsewhere = sign_in(&server.base, provider, &other)
        .await
        .ticket
        .unwrap();
    let (s, body) = reveal(&server, &id, &key, Some(&elsewhere)).await;
    assert_eq!((s, code_of(&body)), (403, "sign_in_required"), "{body}");

    // A stranger with the whole link is refused: no view used, the owner is told who tried.
    fake.sign_in_as(mallory.clone());
    let stranger = sign_in(&server.base, provider, &id).await;
    assert!(stranger.page.contains("as Mallory"), "{}", stranger.page);
    let stranger = stranger.ticket.unwrap();
    let (s, body) = status(&server, &id, &key, Some(&stranger)).await;
    assert_eq!((s, code_of(&body)), (403, "not_the_recipient"), "{body}");
    assert_eq!(
        body["error"]["message"],
        format!(
            "this secret is for another {} user; nothing was used",
            bob.provider.label()
        )
    );
    let (s, body) = reveal(&server, &id, &key, Some(&stranger)).await;
    assert_eq!(
        (s, code_of(&body)),
        (403, "sign_in_required"),
        "used up: {body}"
    );
    assert_eq!(owner_sees(&server, &id).await, (1, 1));
    let events = hook.wait_for(2, T).await;
    let denied = events[1].json();
    assert_eq!(denied["type"], "seecret.access_denied");
    assert_eq!(denied["reason"], "recipient");
    assert_eq!(denied["viewer"]["user"], mallory.user.as_str());
    assert_eq!(denied["views_remaining"], 1);
    // One refusal event, however often the stranger's ticket was shown.
    let (_, info) = get(&server, &format!("/v1/secrets/{id}")).await;
    let denials = info["webhook_deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["type"] == "seecret.access_denied")
        .count();
    assert_eq!(denials, 1);

    // Nothing of the sign-ins reached the server's log (at debug): no ticket, no code, no
    // client secret.
    let log = server.log();
    let code = url::Url::parse(&run.callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    for secret in [&ticket, &stranger, &code, &fake.client_secret] {
        assert!(!log.contains(secret.as_str()), "{secret} in the log");
    }
}

#[tokio::test]
async fn a_slack_recipient_signs_in_and_opens_it_once_and_a_stranger_is_refused() {
    let fake = FakeOAuth::slack().await;
    the_recipient_signs_in_and_opens_it_once(&fake, bob_on_slack(), mallory_on_slack()).await;
}

#[tokio::test]
async fn a_discord_recipient_signs_in_and_opens_it_once_and_a_stranger_is_refused() {
    let fake = FakeOAuth::discord().await;
    the_recipient_signs_in_and_opens_it_once(&fake, bob_on_discord(), mallory_on_discord()).await;
}

#[tokio::test]
async fn a_ticket_that_expired_opens_nothing() {
    let fake = FakeOAuth::discord().await;
    let server = server_for(&[&fake], &[("SEECRET_SIGN_IN_TICKET_TTL", "1s")]);
    let (id, _, key) = create_bound(&server, bound(&bob_on_discord()), json!({})).await;
    fake.sign_in_as(bob_on_discord());
    let ticket = sign_in(&server.base, "discord", &id).await.ticket.unwrap();
    let expired = eventually(T, || async {
        let (s, body) = status(&server, &id, &key, Some(&ticket)).await;
        (s == 403).then_some(body)
    })
    .await
    .expect("the ticket never expired");
    assert_eq!(code_of(&expired), "sign_in_required");
    assert!(
        expired["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{expired}"
    );
    let (s, body) = reveal(&server, &id, &key, Some(&ticket)).await;
    assert_eq!((s, code_of(&body)), (403, "sign_in_required"));
    assert_eq!(owner_sees(&server, &id).await, (1, 0));
}

#[tokio::test]
async fn the_callback_refuses_what_did_not_start_in_this_browser_and_tokens_that_do_not_verify() {
    let fake = FakeOAuth::slack().await;
    let server = server_for(&[&fake], &[]);
    let (id, _, _) = create_bound(&server, bound(&bob_on_slack()), json!({})).await;
    fake.sign_in_as(bob_on_slack());
    let tokens = || fake.calls_to("openid.connect.token").len();

    // Login CSRF: someone else's callback (their code and state) in a browser without the flow's
    // cookie, or with the cookie of another flow, is refused before the code is exchanged.
    let (callback, cookie) = sign_in_start(&server.base, "slack", &id).await;
    let (_, other_cookie) = sign_in_start(&server.base, "slack", &id).await;
    for jar in [None, Some(other_cookie.as_str())] {
        let (s, page) = sign_in_finish(&callback, jar).await;
        assert_eq!(s, 400, "{page}");
        assert!(page.contains("not started in this browser"), "{page}");
        assert!(ticket_in(&page).is_none());
    }
    // An altered state (another secret's id in it) does not verify either.
    let altered = {
        let url = url::Url::parse(&callback).unwrap();
        let state: String = url
            .query_pairs()
            .find(|(k, _)| k == "state")
            .unwrap()
            .1
            .into_owned();
        let other = uuid::Uuid::now_v7().to_string();
        callback.replace(&state[..36], &other)
    };
    let (s, page) = sign_in_finish(&altered, Some(&cookie)).await;
    assert_eq!(s, 400, "{page}");
    assert_eq!(tokens(), 0, "a refused callback reached the platform");

    // The real one works once; replayed (even with the cookie), the code is spent.
    let (s, page) = sign_in_finish(&callback, Some(&cookie)).await;
    assert_eq!(s, 200, "{page}");
    assert!(ticket_in(&page).is_some());
    let (s, page) = sign_in_finish(&callback, Some(&cookie)).await;
    assert_eq!(s, 502, "{page}");
    assert!(page.contains("invalid_code"), "{page}");
    assert!(ticket_in(&page).is_none());
    assert!(
        page.contains(&format!("../../s/{id}")),
        "a way back: {page}"
    );

    // The person cancels at Slack.
    fake.decline();
    let (callback, cookie) = sign_in_start(&server.base, "slack", &id).await;
    let (s, page) = sign_in_finish(&callback, Some(&cookie)).await;
    assert_eq!(s, 400, "{page}");
    assert!(
        page.contains("access_denied") && page.contains("Nothing was used"),
        "{page}"
    );

    // An id_token that does not hold up gives no ticket.
    fake.sign_in_as(bob_on_slack());
    for spoil in [
        Spoil::Nonce,
        Spoil::Audience,
        Spoil::Expired,
        Spoil::Signature,
        Spoil::Issuer,
    ] {
        fake.spoil(Some(spoil));
        let run = sign_in(&server.base, "slack", &id).await;
        assert_eq!(run.status, 502, "{spoil:?}: {}", run.page);
        assert!(
            run.page.contains("could not be verified"),
            "{spoil:?}: {}",
            run.page
        );
        assert!(run.ticket.is_none(), "{spoil:?}");
    }
    fake.spoil(None);
    assert_eq!(sign_in(&server.base, "slack", &id).await.status, 200);

    // A display name from the platform is text on the page, never markup.
    fake.sign_in_as(PlatformIdentity {
        name: Some("Bob \"<img src=x>\" & co".into()),
        ..bob_on_slack()
    });
    let run = sign_in(&server.base, "slack", &id).await;
    assert_eq!(run.status, 200, "{}", run.page);
    assert!(!run.page.contains("<img"), "{}", run.page);
    assert!(
        run.page
            .contains("as Bob &quot;&lt;img src=x&gt;&quot; &amp; co."),
        "{}",
        run.page
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_started_on_one_instance_finishes_on_another_and_its_ticket_counts_on_both() {
    // Two instances on one database behind one public address, as behind a load balancer.
    let fake = FakeOAuth::slack().await;
    let public = "http://seecret.test";
    let mut opts = ServerOptions::default().env("SEECRET_PUBLIC_URL", public);
    for (k, v) in fake.env() {
        opts = opts.env(&k, v);
    }
    let (a, b) = tokio::task::block_in_place(|| {
        let a = Server::start_with(opts.clone());
        let b = Server::start_with(ServerOptions {
            data_dir: Some(a.data_dir.clone()),
            ..opts
        });
        (a, b)
    });
    fake.register_server(public);
    fake.sign_in_as(bob_on_slack());
    let (id, _, key) = create_bound(&a, bound(&bob_on_slack()), json!({})).await;
    let (callback, cookie) = sign_in_start(&a.base, "slack", &id).await;
    assert!(callback.starts_with(&format!("{public}/auth/slack/callback?")));
    // The balancer sends the callback to the other instance: it has no state of the flow but the
    // browser's cookie, and that is enough.
    let on_b = callback.replace(public, &b.base);
    let (s, page) = sign_in_finish(&on_b, Some(&cookie)).await;
    assert_eq!(s, 200, "{page}");
    let ticket = ticket_in(&page).unwrap();
    // The ticket is in the shared database: the first instance checks it and opens the secret.
    let (s, body) = status(&a, &id, &key, Some(&ticket)).await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = reveal(&a, &id, &key, Some(&ticket)).await;
    assert_eq!(
        (s, &body["content"]),
        (200, &json!("the vault code is 4-8-15-16"))
    );
    let (s, body) = reveal(&b, &id, &key, Some(&ticket)).await;
    // Used up, for the other instance too.
    assert_eq!((s, code_of(&body)), (403, "sign_in_required"), "{body}");
}

// ---- in a real browser ------------------------------------------------------------------------

/// Runs `tests/js/sign-in.mjs` on `link`, off the runtime's threads (the fake platform answers
/// the browser meanwhile).
async fn browser(link: &str, mode: &str) -> Value {
    let (link, mode) = (link.to_string(), mode.to_string());
    tokio::task::spawn_blocking(move || {
        let artifacts = repo_path("tests/artifacts");
        let _ = std::fs::create_dir_all(&artifacts);
        let (code, out, err) = run(
            Command::new("node")
                .arg(repo_path("tests/js/sign-in.mjs"))
                .arg(&link)
                .arg(&mode)
                .env("SCREENSHOT_DIR", artifacts),
            Duration::from_secs(120),
        );
        assert_eq!(code, 0, "browser ({mode}) failed: {err}\n{out}");
        serde_json::from_str(out.trim()).unwrap_or_else(|_| panic!("browser said {out:?}"))
    })
    .await
    .unwrap()
}

/// Whether the page logged no error but the 403s of its first `n` status calls (Chromium logs
/// every 4xx of a fetch: `sign_in_required` before the sign-in, `not_the_recipient` after a
/// stranger's, both by design).
fn only_the_403s_of(seen: &Value, n: usize) -> bool {
    let errors = seen["errors"].as_array().unwrap();
    errors.len() <= n
        && errors
            .iter()
            .all(|e| e.as_str().unwrap().contains("status of 403"))
}

/// The recipient opens the link, signs in at the platform and reads the exact text; a stranger
/// holding the same kind of link signs in and is refused with no view used.
async fn in_a_real_browser(fake: FakeOAuth, bob: PlatformIdentity, mallory: PlatformIdentity) {
    let label = bob.provider.label();
    let server = tokio::task::block_in_place(|| server_for(&[&fake], &[]));
    let secret = "db password: p&ss<1>\"é ✓\nsecond line";
    let (id, link, key) =
        create_bound(&server, bound(&bob), json!({"content": secret, "views": 1})).await;
    fake.sign_in_as(bob.clone());
    let seen = browser(&link, "recipient").await;
    // The page asked for the bound user's workspace (Slack preselects it).
    if let Some(team) = &bob.team {
        let authorize = &fake.calls_to("authorize")[0];
        assert!(
            authorize.query.contains(&format!("team={team}")),
            "{}",
            authorize.query
        );
    }
    assert_eq!(seen["content"].as_str().unwrap(), secret, "{seen}");
    assert!(only_the_403s_of(&seen, 1), "{seen}");
    assert_eq!(
        seen["signInLead"].as_str().unwrap(),
        format!(
            "This secret is only for @bob on {label}. Sign in with {label} to show it is you; \
             nothing is used until you click Reveal."
        )
    );
    assert!(
        seen["lead"]
            .as_str()
            .unwrap()
            .starts_with(&format!("Signed in with {label} as Bob Example.")),
        "{seen}"
    );
    // The key came back from the tab's storage into the fragment, and left the address bar
    // once the secret was revealed.
    assert!(
        seen["urlBack"]
            .as_str()
            .unwrap()
            .ends_with(&format!("#{key}")),
        "{seen}"
    );
    assert!(!seen["url"].as_str().unwrap().contains('#'), "{seen}");
    // It never went to the server or to the platform.
    assert!(!server.log().contains(&key));
    assert!(
        fake.calls()
            .iter()
            .all(|c| !c.query.contains(&key) && !c.text().contains(&key))
    );
    let (_, info) = get(&server, &format!("/v1/secrets/{id}")).await;
    assert_eq!(info["status"], "consumed");
    assert_eq!(info["view_log"][0]["viewer"]["user"], bob.user.as_str());

    let (id, link, _) = create_bound(&server, bound(&bob), json!({})).await;
    fake.sign_in_as(mallory);
    let refused = browser(&link, "stranger").await;
    assert_eq!(refused["state"], "refused", "{refused}");
    assert_eq!(
        refused["refusal"].as_str().unwrap(),
        format!(
            "This secret is for another {label} user; nothing was used. You signed in as Mallory."
        )
    );
    assert!(only_the_403s_of(&refused, 2), "{refused}");
    let (_, info) = get(&server, &format!("/v1/secrets/{id}")).await;
    assert_eq!(
        (info["status"].as_str(), info["views_remaining"].as_u64()),
        (Some("active"), Some(1))
    );
    assert!(info["view_log"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(feature = "external"),
    ignore = "needs Chromium and Node: run with --features seecret-tests/external"
)]
async fn in_a_real_browser_a_slack_recipient_signs_in_and_reads_it_and_a_stranger_is_refused() {
    in_a_real_browser(FakeOAuth::slack().await, bob_on_slack(), mallory_on_slack()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(feature = "external"),
    ignore = "needs Chromium and Node: run with --features seecret-tests/external"
)]
async fn in_a_real_browser_a_discord_recipient_signs_in_and_reads_it_and_a_stranger_is_refused() {
    in_a_real_browser(
        FakeOAuth::discord().await,
        bob_on_discord(),
        mallory_on_discord(),
    )
    .await;
}
