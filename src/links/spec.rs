//! The container spec for a link's WAHA: image, engine, per-link secrets, webhook target,
//! labels, limits and hardening — all from configuration.

use std::collections::HashMap;

use super::{container_name, keys, volume_name};
use crate::config::WahaConfig;
use crate::db::links::LinkRow;
use crate::runtime::{
    ContainerSpec, PortPublish, RestartPolicy, LABEL_INSTANCE, LABEL_LINK, LABEL_MANAGED,
    LABEL_ROLE,
};

/// The port WAHA listens on inside its container.
pub const WAHA_PORT: u16 = 3000;

/// Events Puente subscribes each container to. `message.any` and not `message` as well: the
/// first carries every message, ours included, so with both each inbound one came twice.
pub const HOOK_EVENTS: &str =
    "session.status,message.any,message.ack,message.reaction,message.revoked,message.edited,presence.update";

/// What a session container gets when the configuration does not say: WEBJS runs Chromium
/// (WAHA's own figure is ~400 MB for one session; its shared memory and downloads live in
/// `/tmp`), NOWEB and GOWS far less.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resources {
    pub memory_mb: i64,
    pub pids: i64,
    pub tmp_mb: i64,
}

pub fn resources(cfg: &WahaConfig, engine: &str) -> Resources {
    let default = match engine {
        "WEBJS" => Resources {
            memory_mb: 1024,
            pids: 1024,
            tmp_mb: 512,
        },
        _ => Resources {
            memory_mb: 512,
            pids: 512,
            tmp_mb: 256,
        },
    };
    Resources {
        memory_mb: cfg.waha_memory_mb.unwrap_or(default.memory_mb),
        pids: cfg.waha_pids.unwrap_or(default.pids),
        tmp_mb: cfg.waha_tmp_mb.unwrap_or(default.tmp_mb),
    }
}

/// Variables Puente sets itself; extra env cannot override them.
const RESERVED: &[&str] = &[
    "WHATSAPP_API_PORT",
    "PORT",
    "WHATSAPP_HOOK_URL",
    "WHATSAPP_HOOK_EVENTS",
    "WHATSAPP_HOOK_HMAC_KEY",
    "WAHA_API_KEY",
    "WHATSAPP_API_KEY",
    "WAHA_NO_API_KEY",
    "WHATSAPP_START_SESSION",
    "WHATSAPP_DEFAULT_ENGINE",
];

pub fn labels(cfg: &WahaConfig, link: &LinkRow) -> HashMap<String, String> {
    HashMap::from([
        (LABEL_MANAGED.to_string(), "true".to_string()),
        (LABEL_INSTANCE.to_string(), cfg.instance.clone()),
        (LABEL_LINK.to_string(), link.id.to_string()),
        (LABEL_ROLE.to_string(), "waha".to_string()),
        ("puente.agent".to_string(), link.agent_id.to_string()),
    ])
}

pub fn webhook_url(webhook_base: &str, link: &LinkRow) -> String {
    format!(
        "{}/webhooks/waha/{}",
        webhook_base.trim_end_matches('/'),
        link.id
    )
}

pub fn container_spec(cfg: &WahaConfig, link: &LinkRow, webhook_base: &str) -> ContainerSpec {
    let res = resources(cfg, &link.engine);
    let master = cfg.master_secret.expose().as_bytes();
    let mut env = vec![
        ("WHATSAPP_API_PORT".to_string(), WAHA_PORT.to_string()),
        (
            "WHATSAPP_HOOK_URL".to_string(),
            webhook_url(webhook_base, link),
        ),
        ("WHATSAPP_HOOK_EVENTS".to_string(), HOOK_EVENTS.to_string()),
        (
            "WHATSAPP_HOOK_HMAC_KEY".to_string(),
            keys::hmac_key(master, link.id, link.key_version),
        ),
        (
            "WAHA_API_KEY".to_string(),
            keys::api_key(master, link.id, link.key_version),
        ),
        ("WHATSAPP_START_SESSION".to_string(), "default".to_string()),
        ("WHATSAPP_DEFAULT_ENGINE".to_string(), link.engine.clone()),
        ("WAHA_PRINT_QR".to_string(), "False".to_string()),
        ("WAHA_LOG_FORMAT".to_string(), "JSON".to_string()),
        // Long enough for a late apply (a retry, a deferred event, a replay) to find a
        // downloaded file; WAHA's own default is 180 s.
        (
            "WHATSAPP_FILES_LIFETIME".to_string(),
            cfg.waha_files_lifetime_secs.to_string(),
        ),
    ];
    for kv in &cfg.waha_extra_env {
        if let Some((k, v)) = kv.pair() {
            if !RESERVED.contains(&k) {
                env.push((k.to_string(), v.to_string()));
            }
        }
    }
    let labels = labels(cfg, link);
    ContainerSpec {
        name: container_name(link.id),
        image: link.image.clone(),
        env,
        labels,
        volume: Some((volume_name(link.id), "/app/.sessions".to_string())),
        network: cfg.waha_network.clone(),
        publish: cfg.waha_network.is_none().then(|| PortPublish {
            container_port: WAHA_PORT,
            host_ip: cfg.waha_publish_host.clone(),
            host_port: None,
        }),
        memory_bytes: Some(res.memory_mb * 1024 * 1024),
        nano_cpus: Some((cfg.waha_cpus * 1e9) as i64),
        cpu_shares: Some(512),
        pids_limit: Some(res.pids),
        read_only_rootfs: cfg.waha_read_only,
        tmpfs: if cfg.waha_read_only {
            vec![(
                "/tmp".to_string(),
                format!("rw,nosuid,nodev,size={}m", res.tmp_mb),
            )]
        } else {
            Vec::new()
        },
        extra_hosts: vec!["host.docker.internal:host-gateway".to_string()],
        restart: Some(RestartPolicy::OnFailure { max_retries: 5 }),
        harden: true,
        user: None,
        // Set by the caller from the link's placement (Swarm).
        node: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_follow_the_engine_unless_configured() {
        let mut cfg = crate::config::ServeConfig::for_tests("postgres://unused").waha;
        assert_eq!(
            resources(&cfg, "WEBJS"),
            Resources {
                memory_mb: 1024,
                pids: 1024,
                tmp_mb: 512
            }
        );
        for engine in ["NOWEB", "GOWS"] {
            assert_eq!(
                resources(&cfg, engine),
                Resources {
                    memory_mb: 512,
                    pids: 512,
                    tmp_mb: 256
                }
            );
        }
        cfg.waha_memory_mb = Some(300);
        cfg.waha_tmp_mb = Some(64);
        let r = resources(&cfg, "WEBJS");
        assert_eq!((r.memory_mb, r.pids, r.tmp_mb), (300, 1024, 64));
    }

    #[test]
    fn one_subscription_per_message() {
        let events: Vec<&str> = HOOK_EVENTS.split(',').collect();
        assert!(events.contains(&"message.any"));
        assert!(
            !events.contains(&"message"),
            "message.any already carries every message"
        );
    }
}
