//! The deployment example (`deploy/docker-compose.yml` and its `deploy/nginx.conf`) stays
//! runnable: it parses, its calsync replicas all point at the compose PostgreSQL service with a
//! configuration calsync accepts, and the load balancer routes the webhook path to every
//! replica (retrying a failed POST on another one, which deduplication makes safe); compose
//! gives each replica longer to stop than calsync's clean shutdown takes. `monitoring`: the
//! alert rules and the dashboard; `packaging`: license, container user and build context.

mod monitoring;
mod packaging;

use std::collections::HashMap;

use calsync::config::{LoadOptions, load};
use secrecy::ExposeSecret;
use serde_json::Value;

const COMPOSE: &str = include_str!("../../deploy/docker-compose.yml");
const NGINX: &str = include_str!("../../deploy/nginx.conf");

/// Replaces each `${NAME…}` interpolation with a sample value (an https URL for `*_URL`), as
/// `docker compose` would with the variables set.
fn interpolate(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("a closed interpolation") + start;
        let name: String = rest[start + 2..end]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let sample = name.to_lowercase().replace('_', "-");
        if name.ends_with("_URL") {
            out.push_str(&format!("https://{sample}.example.com"));
        } else {
            out.push_str(&format!("sample-{sample}"));
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn services(compose: &Value) -> &serde_json::Map<String, Value> {
    compose["services"].as_object().expect("a services map")
}

/// The calsync services: those running the calsync image.
fn calsync_services(compose: &Value) -> Vec<(&String, &Value)> {
    services(compose)
        .iter()
        .filter(|(_, service)| service["image"].as_str() == Some("calsync:local"))
        .collect()
}

fn environment(service: &Value) -> HashMap<String, String> {
    let map = service["environment"]
        .as_object()
        .expect("an environment map");
    map.iter()
        .map(|(key, value)| {
            let value = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            (key.clone(), value)
        })
        .collect()
}

#[test]
fn two_replicas_share_the_compose_postgres_with_a_valid_configuration() {
    let compose: Value = serde_yaml_ng::from_str(&interpolate(COMPOSE)).expect("valid YAML");
    let postgres = &services(&compose)["postgres"];
    assert!(postgres["image"].as_str().unwrap().starts_with("postgres:"));
    assert!(postgres["healthcheck"]["test"].is_array());
    let database = postgres["environment"]["POSTGRES_DB"].as_str().unwrap();
    let user = postgres["environment"]["POSTGRES_USER"].as_str().unwrap();

    let replicas = calsync_services(&compose);
    assert!(replicas.len() >= 2, "at least two replicas");
    for (name, service) in replicas {
        let env = environment(service);
        let settings = load(&LoadOptions {
            config_path: None,
            env: env.clone(),
            ..LoadOptions::default()
        })
        .unwrap_or_else(|error| panic!("{name}: calsync rejects its configuration: {error}"));
        let store = url::Url::parse(settings.store.url.expose_secret()).unwrap();
        assert_eq!(store.scheme(), "postgres", "{name}");
        assert_eq!(store.host_str(), Some("postgres"), "{name}: the service");
        assert_eq!(store.port(), Some(5432), "{name}");
        assert_eq!(store.path(), format!("/{database}"), "{name}");
        assert_eq!(store.username(), user, "{name}");
        assert_eq!(settings.server.listen.port(), 3000, "{name}");
        assert_eq!(
            service["depends_on"]["postgres"]["condition"], "service_healthy",
            "{name} waits for PostgreSQL"
        );
        let check = service["healthcheck"]["test"].to_string();
        assert!(check.contains("healthcheck"), "{name}: {check}");
        // A clean stop takes at most shutdown_timeout + 2 s; compose must not SIGKILL before.
        let grace = service["stop_grace_period"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no stop_grace_period (compose's default is 10s)"));
        let grace = humantime::parse_duration(grace).unwrap();
        let stop = settings.server.shutdown_timeout + std::time::Duration::from_secs(2);
        assert!(
            grace > stop,
            "{name}: stop_grace_period {grace:?} <= {stop:?}"
        );
    }
}

/// The body of the first `{keyword} {name} {` block of the nginx configuration.
fn block<'a>(config: &'a str, opening: &str) -> &'a str {
    let start = config
        .find(opening)
        .unwrap_or_else(|| panic!("no {opening}"))
        + opening.len();
    let end = config[start..].find('}').expect("a closed block") + start;
    &config[start..end]
}

#[test]
fn the_load_balancer_routes_the_notification_to_every_replica() {
    let compose: Value = serde_yaml_ng::from_str(&interpolate(COMPOSE)).expect("valid YAML");
    let balancer = &services(&compose)["load-balancer"];
    let volumes = balancer["volumes"].to_string();
    assert!(
        volumes.contains("./nginx.conf:/etc/nginx/nginx.conf"),
        "{volumes}"
    );
    assert!(balancer["ports"].to_string().contains(":80"));

    let upstream = block(NGINX, "upstream calsync {");
    let servers: Vec<&str> = upstream
        .lines()
        .filter_map(|line| line.trim().strip_prefix("server "))
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    let replicas = calsync_services(&compose);
    assert_eq!(servers.len(), replicas.len(), "{servers:?}");
    for (name, _) in &replicas {
        assert!(servers.contains(&format!("{name}:3000").as_str()), "{name}");
    }

    let settings = load(&LoadOptions {
        config_path: None,
        env: environment(replicas[0].1),
        ..LoadOptions::default()
    })
    .unwrap();
    let webhook = block(
        NGINX,
        &format!("location = {} {{", settings.server.webhook_path),
    );
    assert!(webhook.contains("proxy_pass http://calsync;"), "{webhook}");
    assert!(webhook.contains("non_idempotent"), "{webhook}");
}
