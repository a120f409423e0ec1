//! `seuil sim courier`: a courier's phone doing one delivery against a running server and a
//! lock's local link: sign in, arrive, get the one-time grant (waiting for the camera to be
//! live), answer the lock's challenge with a key made for this delivery only, go in, come
//! out, relock, report.

use super::device::B64;
use super::session::Session;
use anyhow::{Context, bail};
use base64::Engine;
use clap::Args;
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use seuil_proto::{CourierProof, Grant};
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct CourierArgs {
    /// The server, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    server: String,
    /// The courier's account.
    #[arg(long)]
    email: String,
    /// The courier's password (or set SEUIL_COURIER_PASSWORD).
    #[arg(long, env = "SEUIL_COURIER_PASSWORD", hide_env_values = true)]
    password: String,
    /// The lock's local link (`seuil sim lock --listen`).
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:7401")]
    lock: String,
    /// The delivery to do (default: the first assigned one not yet done).
    #[arg(long)]
    delivery: Option<String>,
    /// Seconds spent inside before coming out and relocking.
    #[arg(long, default_value_t = 5)]
    inside: u64,
    /// Before relocking, try to open the door a second time with the same grant.
    #[arg(long)]
    second_entry: bool,
}

/// What one delivery came to.
#[derive(Debug)]
pub struct Visit {
    pub delivery: String,
    /// The lock's answer to a second entry with the same grant, if one was tried.
    pub second_entry: Option<String>,
}

pub struct Plan {
    pub delivery: Option<String>,
    pub inside: Duration,
    pub second_entry: bool,
}

async fn lock_call(
    http: &reqwest::Client,
    url: String,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let req = match body {
        Some(b) => http.post(&url).json(&b),
        None => http.get(&url),
    };
    let res = req
        .send()
        .await
        .with_context(|| format!("cannot reach the lock at {url}"))?;
    let status = res.status();
    let v: Value = res.json().await.unwrap_or_default();
    if !status.is_success() {
        bail!(
            "the lock answered {status}: {}",
            v["error"].as_str().unwrap_or("no detail")
        );
    }
    Ok(v)
}

/// Asks the lock for a challenge and answers it with the grant.
async fn try_door(
    http: &reqwest::Client,
    lock: &str,
    grant: &[u8],
    key: &SigningKey,
) -> anyhow::Result<Value> {
    let c = lock_call(http, format!("{lock}/challenge"), None).await?;
    let mut challenge = [0u8; 32];
    hex::decode_to_slice(c["challenge"].as_str().unwrap_or_default(), &mut challenge)
        .context("the lock sent a bad challenge")?;
    let parsed =
        Grant::decode(grant).map_err(|e| anyhow::anyhow!("the server sent a bad grant: {e}"))?;
    let proof = CourierProof::sign(&parsed, &challenge, key).encode();
    lock_call(
        http,
        format!("{lock}/unlock"),
        Some(json!({ "grant": B64.encode(grant), "proof": B64.encode(proof) })),
    )
    .await
}

/// Does one delivery, printing each step.
pub async fn deliver(session: &Session, lock: &str, plan: Plan) -> anyhow::Result<Visit> {
    use reqwest::Method;
    let lock = lock.trim_end_matches('/');
    let id = match plan.delivery {
        Some(id) => id,
        None => {
            let mine = session
                .ok(Method::GET, "/api/courier/deliveries", None)
                .await?;
            mine["deliveries"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|d| d["step"] == "scheduled" || d["step"] == "arrived")
                .and_then(|d| d["id"].as_str())
                .map(str::to_owned)
                .context("no delivery assigned to you is waiting")?
        }
    };
    let step = session
        .ok(
            Method::POST,
            &format!("/api/courier/deliveries/{id}/arrive"),
            None,
        )
        .await;
    match step {
        Ok(_) => println!("courier: arrived for {id}"),
        Err(e) if e.to_string().contains("arrived") => {
            println!("courier: already at the door for {id}")
        }
        Err(e) => return Err(e),
    }
    // A key for this delivery only: a captured grant is useless without it.
    let key = SigningKey::from_bytes(&rand::random());
    let ask = json!({ "courier_key": B64.encode(key.verifying_key().as_bytes()) });
    let started = Instant::now();
    let grant = loop {
        let (status, v) = session
            .call(
                Method::POST,
                &format!("/api/courier/deliveries/{id}/grant"),
                Some(ask.clone()),
            )
            .await?;
        if status.is_success() {
            break B64
                .decode(v["grant"].as_str().unwrap_or_default())
                .context("a bad grant")?;
        }
        let detail = v["detail"].as_str().unwrap_or("no detail").to_owned();
        // The camera may still be starting; anything else is final.
        if !detail.contains("camera is not live") || started.elapsed() > Duration::from_secs(20) {
            bail!("no grant: {detail}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    println!("courier: got a grant of {} bytes", grant.len());
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let opened = try_door(&http, lock, &grant, &key).await?;
    if opened["outcome"] != "unlocked" {
        bail!(
            "the lock refused: {}",
            opened["reason"].as_str().unwrap_or("no reason")
        );
    }
    println!(
        "courier: the lock opened; inside for {} s",
        plan.inside.as_secs()
    );
    tokio::time::sleep(plan.inside).await;
    let second_entry = if plan.second_entry {
        let again = try_door(&http, lock, &grant, &key).await?;
        let said = match again["outcome"].as_str() {
            Some("unlocked") => "unlocked".to_owned(),
            _ => format!(
                "refused: {}",
                again["reason"].as_str().unwrap_or("no reason")
            ),
        };
        println!("courier: a second entry with the same grant: the lock {said}");
        Some(said)
    } else {
        None
    };
    lock_call(&http, format!("{lock}/relock"), Some(json!({}))).await?;
    session
        .ok(
            Method::POST,
            &format!("/api/courier/deliveries/{id}/relock"),
            None,
        )
        .await?;
    println!("courier: relocked and reported");
    Ok(Visit {
        delivery: id,
        second_entry,
    })
}

pub async fn run(args: CourierArgs) -> anyhow::Result<()> {
    let session = Session::sign_in(&args.server, &args.email, &args.password).await?;
    deliver(
        &session,
        &args.lock,
        Plan {
            delivery: args.delivery,
            inside: Duration::from_secs(args.inside),
            second_entry: args.second_entry,
        },
    )
    .await?;
    Ok(())
}
