//! Profiles: `/1.0/profiles`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;

use crate::http::{ApiError, Config, Reply, Request};
use crate::server::BoxFuture;

use super::LxdService;
use super::db::{self};

impl LxdService {
    pub(super) fn profiles_get(&self, req: &Request) -> Reply {
        let profiles = self.with_db(|db| db.profiles.clone()).unwrap_or_default();
        if req.recursion() == 0 {
            return Reply::sync(
                profiles
                    .keys()
                    .map(|n| format!("/1.0/profiles/{n}"))
                    .collect::<Vec<_>>(),
            );
        }
        Reply::sync(
            profiles
                .values()
                .map(db::Profile::to_json)
                .collect::<Vec<_>>(),
        )
    }

    pub(super) fn profile_get(&self, name: &str) -> Reply {
        match self
            .with_db(|db| db.profiles.get(name).cloned())
            .ok()
            .flatten()
        {
            Some(p) => {
                let v = p.to_json();
                let etag = crate::tls::fingerprint(v.to_string().as_bytes());
                Reply::sync(v).with_etag(etag)
            }
            None => Reply::error(404, "Fetch profile: Profile not found"),
        }
    }

    pub(super) fn profiles_post(&self, req: &Request) -> Reply {
        let body: ProfileBody = match req.json("api.ProfilesPost") {
            Ok(b) => b,
            Err(e) => return e.into(),
        };
        let Some(name) = body.name.clone().filter(|n| !n.is_empty()) else {
            return Reply::error(400, "No name provided");
        };
        if let Err(e) = self.validate_devices(&body.devices) {
            return e.into();
        }
        let r = self.with_db(|db| {
            if db.profiles.contains_key(&name) {
                return Err(ApiError::new(
                    409,
                    format!("Error inserting {name} into database: The profile already exists"),
                ));
            }
            db.profiles.insert(
                name.clone(),
                db::Profile {
                    name: name.clone(),
                    description: body.description.clone(),
                    config: body.config.clone(),
                    devices: body.devices.clone(),
                },
            );
            Ok(())
        });
        match r {
            Ok(Ok(())) => Reply::created(format!("/1.0/profiles/{name}")),
            Ok(Err(e)) | Err(e) => e.into(),
        }
    }

    pub(super) fn validate_devices(
        &self,
        devices: &BTreeMap<String, Config>,
    ) -> Result<(), ApiError> {
        for (dev, cfg) in devices {
            match cfg.get("type").map(String::as_str) {
                Some("nic") => {
                    if let Some(net) = cfg.get("network") {
                        let exists = self.with_db(|db| {
                            db.networks
                                .get(net)
                                .is_some_and(|n| n.state == db::State::Created)
                        })?;
                        if !exists {
                            return Err(ApiError::not_found(format!(
                                "Device validation failed for \"{dev}\": Failed loading device \"{dev}\": Failed to load network \"{net}\" for project \"default\": Network not found"
                            )));
                        }
                    }
                }
                Some("disk") | Some("none") | Some("unix-char") | Some("unix-block")
                | Some("usb") | Some("gpu") | Some("infiniband") | Some("proxy") | Some("pci")
                | Some("tpm") => {}
                Some(other) => {
                    return Err(ApiError::bad_request(format!(
                        "Device validation failed for \"{dev}\": Unsupported device type \"{other}\""
                    )));
                }
                None => {
                    return Err(ApiError::bad_request(format!(
                        "Device validation failed for \"{dev}\": Missing device type for device \"{dev}\""
                    )));
                }
            }
        }
        Ok(())
    }

    pub(super) async fn profile_put(
        self: &Arc<Self>,
        req: &Request,
        name: &str,
        patch: bool,
    ) -> Reply {
        let Some(existing) = self
            .with_db(|db| db.profiles.get(name).cloned())
            .ok()
            .flatten()
        else {
            return Reply::error(404, "Fetch profile: Profile not found");
        };
        if let Some(want) = req.header("if-match") {
            let have = crate::tls::fingerprint(existing.to_json().to_string().as_bytes());
            if want.trim_matches('"') != have {
                return Reply::error(
                    412,
                    format!("ETag doesn't match: {} vs {}", want.trim_matches('"'), have),
                );
            }
        }
        let body: ProfileBody = match req.json("api.ProfilePut") {
            Ok(b) => b,
            Err(e) => return e.into(),
        };
        let mut new = existing.clone();
        if patch {
            new.config.extend(body.config);
            new.devices.extend(body.devices);
            if !body.description.is_empty() {
                new.description = body.description;
            }
        } else {
            new.config = body.config;
            new.devices = body.devices;
            new.description = body.description;
        }
        if let Err(e) = self.validate_devices(&new.devices) {
            return e.into();
        }
        let this = self.clone();
        let name = name.to_string();
        let action: BoxFuture<Result<(), ApiError>> = Box::pin(async move {
            this.with_db(|db| {
                db.profiles.insert(name, new);
            })
        });
        self.run(
            self.b.async_profiles(),
            "Updating profile",
            json!({"profiles": [format!("/1.0/profiles/{}", existing.name)]}),
            self.timings.profile_update,
            None,
            action,
        )
        .await
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct ProfileBody {
    name: Option<String>,
    description: String,
    config: Config,
    devices: BTreeMap<String, Config>,
}
