//! [`LxdClient`]: [`LxdApi`] over HTTP.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::envelope::Operation;
use crate::error::RequestContext;
use crate::rest::{AsyncReply, CallOptions, Completion, NO_BODY, Reply, RestClient};
use crate::{Error, Service, Transport, encode_component, with_target};

use super::*;

/// [`LxdApi`] over a [`Transport`].
#[derive(Debug, Clone)]
pub struct LxdClient {
    rest: RestClient,
}

impl LxdClient {
    /// A client for the LXD at `transport`, on the node called `node`.
    pub fn new(transport: Transport, node: &str) -> Self {
        LxdClient {
            rest: RestClient::new(transport, Service::Lxd, node),
        }
    }

    /// A client from a configured [`RestClient`] (for custom timeouts).
    pub fn from_rest(rest: RestClient) -> Self {
        LxdClient { rest }
    }

    /// The request layer.
    pub fn rest(&self) -> &RestClient {
        &self.rest
    }

    fn ctx(&self, method: &http::Method, path: &str) -> RequestContext {
        self.rest.context(method, path)
    }

    async fn tagged<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<Tagged<T>, Error> {
        let reply = self
            .rest
            .sync_reply(http::Method::GET, path, NO_BODY, CallOptions::default())
            .await?;
        let value =
            crate::rest::decode_metadata(&self.ctx(&http::Method::GET, path), reply.metadata)?;
        Ok(Tagged {
            value,
            etag: reply.etag,
        })
    }

    async fn mutate<B>(
        &self,
        method: http::Method,
        path: &str,
        body: &B,
        options: CallOptions,
    ) -> Result<Completion, Error>
    where
        B: Serialize + Sync + ?Sized,
    {
        self.rest.run(method, path, Some(body), options).await
    }

    /// Starts a `token` operation and returns it without waiting (token
    /// operations stay `Running` until used).
    async fn start_token_operation<B>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<(Operation, String), Error>
    where
        B: Serialize + Sync + ?Sized,
    {
        match self
            .rest
            .call(http::Method::POST, path, Some(body), CallOptions::default())
            .await?
        {
            Reply::Async(reply) => {
                let AsyncReply { url, operation } = *reply;
                Ok((operation, url))
            }
            Reply::Sync(_) => Err(Error::Protocol {
                ctx: Box::new(self.ctx(&http::Method::POST, path)),
                detail: "expected a token operation (202), got a synchronous answer".to_owned(),
            }),
        }
    }
}

fn operation_metadata<T: serde::de::DeserializeOwned>(
    ctx: &RequestContext,
    operation: &Operation,
) -> Result<T, Error> {
    let metadata = Value::Object(operation.metadata.clone().unwrap_or_default());
    serde_json::from_value(metadata).map_err(|source| Error::Decode {
        ctx: Box::new(ctx.clone()),
        what: "operation metadata",
        source,
    })
}

impl LxdApi for LxdClient {
    async fn ready(&self) -> Result<(), Error> {
        self.rest
            .sync_reply(
                http::Method::GET,
                "/internal/ready",
                NO_BODY,
                CallOptions::default(),
            )
            .await
            .map(drop)
    }

    async fn server(&self, target: Option<&str>) -> Result<Tagged<Server>, Error> {
        self.tagged(&with_target("/1.0", target)).await
    }

    async fn api_extensions(&self) -> Result<ApiExtensions, Error> {
        Ok(self.server(None).await?.value.extensions())
    }

    async fn put_server(
        &self,
        body: &ServerPut,
        target: Option<&str>,
        if_match: Option<&str>,
    ) -> Result<(), Error> {
        let path = with_target("/1.0", target);
        self.mutate(
            http::Method::PUT,
            &path,
            body,
            CallOptions::if_match(if_match),
        )
        .await
        .map(drop)
    }

    async fn patch_server(
        &self,
        body: &ServerPut,
        target: Option<&str>,
        if_match: Option<&str>,
    ) -> Result<(), Error> {
        let path = with_target("/1.0", target);
        self.mutate(
            http::Method::PATCH,
            &path,
            body,
            CallOptions::if_match(if_match),
        )
        .await
        .map(drop)
    }

    async fn cluster(&self) -> Result<Tagged<Cluster>, Error> {
        self.tagged("/1.0/cluster").await
    }

    async fn enable_clustering(&self, server_name: &str) -> Result<(), Error> {
        self.mutate(
            http::Method::PUT,
            "/1.0/cluster",
            &ClusterPut::enable(server_name),
            CallOptions::default(),
        )
        .await
        .map(drop)
    }

    async fn join_cluster(&self, join: &ClusterJoin, field: TokenField) -> Result<(), Error> {
        self.mutate(
            http::Method::PUT,
            "/1.0/cluster",
            &join.to_put(field),
            CallOptions::default(),
        )
        .await
        .map(drop)
    }

    async fn issue_join_token(&self, server_name: &str) -> Result<IssuedJoinToken, Error> {
        let path = "/1.0/cluster/members";
        let body = ClusterMembersPost {
            server_name: server_name.to_owned(),
        };
        let (operation, url) = self.start_token_operation(path, &body).await?;
        let ctx = self.ctx(&http::Method::POST, path);
        let meta: JoinTokenOperationMetadata = operation_metadata(&ctx, &operation)?;
        let token = ClusterMemberJoinToken {
            server_name: meta.server_name,
            fingerprint: meta.fingerprint,
            addresses: meta.addresses,
            secret: meta.secret,
            expires_at: meta
                .expires_at
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| GO_ZERO_TIME.to_owned()),
        };
        // Re-check through the decoder so that a token LXD would refuse is
        // reported here, where the cause is known.
        ClusterMemberJoinToken::decode(&token.encode()).map_err(|e| Error::Protocol {
            ctx: Box::new(ctx.clone()),
            detail: format!("the token operation {url} cannot make a usable join token: {e}"),
        })?;
        if token.server_name != server_name {
            return Err(Error::Protocol {
                ctx: Box::new(ctx),
                detail: format!(
                    "the token operation {url} is for {:?}, not {server_name:?}",
                    token.server_name
                ),
            });
        }
        Ok(IssuedJoinToken {
            token,
            operation: url,
        })
    }

    async fn cluster_members(&self) -> Result<Vec<ClusterMember>, Error> {
        self.rest
            .get::<Option<Vec<ClusterMember>>>("/1.0/cluster/members?recursion=1")
            .await
            .map(Option::unwrap_or_default)
    }

    async fn remove_member(&self, name: &str) -> Result<(), Error> {
        let path = format!("/1.0/cluster/members/{}?force=1", encode_component(name));
        self.rest
            .sync_reply(http::Method::DELETE, &path, NO_BODY, CallOptions::default())
            .await
            .map(drop)
    }

    async fn add_certificate(&self, body: &CertificatesPost) -> Result<(), Error> {
        self.mutate(
            http::Method::POST,
            "/1.0/certificates",
            body,
            CallOptions::default(),
        )
        .await
        .map(drop)
    }

    async fn issue_certificate_token(&self, name: &str) -> Result<IssuedCertificateToken, Error> {
        let path = "/1.0/certificates";
        let (operation, url) = self
            .start_token_operation(path, &CertificatesPost::token_request(name))
            .await?;
        let ctx = self.ctx(&http::Method::POST, path);
        let meta: CertificateTokenOperationMetadata = operation_metadata(&ctx, &operation)?;
        let token = CertificateAddToken {
            client_name: if meta.request.name.is_empty() {
                name.to_owned()
            } else {
                meta.request.name
            },
            fingerprint: meta.fingerprint,
            addresses: meta.addresses,
            secret: meta.secret,
            expires_at: meta
                .expires_at
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| GO_ZERO_TIME.to_owned()),
        };
        if token.secret.is_empty() || token.fingerprint.is_empty() || token.addresses.is_empty() {
            return Err(Error::Protocol {
                ctx: Box::new(ctx),
                detail: format!(
                    "the token operation {url} lacks a secret, fingerprint or addresses"
                ),
            });
        }
        Ok(IssuedCertificateToken {
            token,
            operation: url,
        })
    }

    async fn trust_with_token(&self, token: &str, field: TokenField) -> Result<(), Error> {
        self.mutate(
            http::Method::POST,
            "/1.0/certificates",
            &CertificatesPost::with_token(token, field),
            CallOptions::default(),
        )
        .await
        .map(drop)
    }

    async fn resources(&self, target: Option<&str>) -> Result<Resources, Error> {
        self.rest.get(&with_target("/1.0/resources", target)).await
    }

    async fn storage_pools(&self, target: Option<&str>) -> Result<Vec<StoragePool>, Error> {
        self.rest
            .get::<Option<Vec<StoragePool>>>(&with_target("/1.0/storage-pools?recursion=1", target))
            .await
            .map(Option::unwrap_or_default)
    }

    async fn storage_pool(&self, name: &str, target: Option<&str>) -> Result<StoragePool, Error> {
        let path = format!("/1.0/storage-pools/{}", encode_component(name));
        self.rest.get(&with_target(&path, target)).await
    }

    async fn create_storage_pool(
        &self,
        body: &StoragePoolsPost,
        target: Option<&str>,
    ) -> Result<(), Error> {
        let path = with_target("/1.0/storage-pools", target);
        self.mutate(http::Method::POST, &path, body, CallOptions::default())
            .await
            .map(drop)
    }

    async fn custom_volumes(
        &self,
        pool: &str,
        target: Option<&str>,
    ) -> Result<Vec<StorageVolume>, Error> {
        let path = format!(
            "/1.0/storage-pools/{}/volumes/custom?recursion=1",
            encode_component(pool)
        );
        self.rest
            .get::<Option<Vec<StorageVolume>>>(&with_target(&path, target))
            .await
            .map(Option::unwrap_or_default)
    }

    async fn create_custom_volume(
        &self,
        pool: &str,
        body: &StorageVolumesPost,
        target: Option<&str>,
    ) -> Result<(), Error> {
        let path = format!(
            "/1.0/storage-pools/{}/volumes/custom",
            encode_component(pool)
        );
        self.mutate(
            http::Method::POST,
            &with_target(&path, target),
            body,
            CallOptions::default(),
        )
        .await
        .map(drop)
    }

    async fn networks(&self, target: Option<&str>) -> Result<Vec<Network>, Error> {
        self.rest
            .get::<Option<Vec<Network>>>(&with_target("/1.0/networks?recursion=1", target))
            .await
            .map(Option::unwrap_or_default)
    }

    async fn network(&self, name: &str, target: Option<&str>) -> Result<Network, Error> {
        let path = format!("/1.0/networks/{}", encode_component(name));
        self.rest.get(&with_target(&path, target)).await
    }

    async fn network_state(&self, name: &str, target: Option<&str>) -> Result<NetworkState, Error> {
        let path = format!("/1.0/networks/{}/state", encode_component(name));
        self.rest.get(&with_target(&path, target)).await
    }

    async fn create_network(&self, body: &NetworksPost, target: Option<&str>) -> Result<(), Error> {
        let path = with_target("/1.0/networks", target);
        self.mutate(http::Method::POST, &path, body, CallOptions::default())
            .await
            .map(drop)
    }

    async fn profiles(&self) -> Result<Vec<Profile>, Error> {
        self.rest
            .get::<Option<Vec<Profile>>>("/1.0/profiles?recursion=1")
            .await
            .map(Option::unwrap_or_default)
    }

    async fn profile(&self, name: &str) -> Result<Tagged<Profile>, Error> {
        self.tagged(&format!("/1.0/profiles/{}", encode_component(name)))
            .await
    }

    async fn put_profile(
        &self,
        name: &str,
        body: &ProfilePut,
        if_match: Option<&str>,
    ) -> Result<(), Error> {
        let path = format!("/1.0/profiles/{}", encode_component(name));
        self.mutate(
            http::Method::PUT,
            &path,
            body,
            CallOptions::if_match(if_match),
        )
        .await
        .map(drop)
    }

    async fn patch_profile(
        &self,
        name: &str,
        body: &ProfilePut,
        if_match: Option<&str>,
    ) -> Result<(), Error> {
        let path = format!("/1.0/profiles/{}", encode_component(name));
        self.mutate(
            http::Method::PATCH,
            &path,
            body,
            CallOptions::if_match(if_match),
        )
        .await
        .map(drop)
    }

    async fn operations(&self) -> Result<Vec<Operation>, Error> {
        let by_status: Option<BTreeMap<String, Option<Vec<Operation>>>> =
            self.rest.get("/1.0/operations?recursion=1").await?;
        Ok(by_status
            .unwrap_or_default()
            .into_values()
            .flatten()
            .flatten()
            .collect())
    }

    async fn cancel_operation(&self, operation: &str) -> Result<(), Error> {
        let path = if operation.starts_with('/') {
            operation.to_owned()
        } else {
            format!("/1.0/operations/{}", encode_component(operation))
        };
        self.rest
            .sync_reply(http::Method::DELETE, &path, NO_BODY, CallOptions::default())
            .await
            .map(drop)
    }
}
