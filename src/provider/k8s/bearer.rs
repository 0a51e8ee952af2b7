//! `Bearer`: the tower layer that puts a current EKS token on every request
//! a kube client sends, so a client lives as long as the provider while
//! each token lives only its lifetime. A wait of any length (a rollout, a
//! foreground delete) keeps being authorized.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::Request;
use http::header::{AUTHORIZATION, HeaderValue};
use tower_layer::Layer;
use tower_service::Service;

use super::token::{Token, TokenSource};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type TokenFuture = Pin<Box<dyn Future<Output = Result<Token, String>> + Send>>;

/// Tokens for one EKS cluster.
#[derive(Clone)]
pub struct BearerLayer {
    tokens: Arc<TokenSource>,
    cluster: String,
    region: Option<String>,
}

impl BearerLayer {
    pub fn new(tokens: Arc<TokenSource>, cluster: &str, region: Option<&str>) -> Self {
        Self {
            tokens,
            cluster: cluster.to_string(),
            region: region.map(str::to_string),
        }
    }
}

impl<S> Layer<S> for BearerLayer {
    type Service = Bearer<S>;

    fn layer(&self, inner: S) -> Bearer<S> {
        Bearer {
            inner,
            layer: self.clone(),
            pending: None,
            ready: None,
        }
    }
}

/// The service [`BearerLayer`] makes. Getting a token may mean resolving
/// credentials, which is asynchronous: `poll_ready` does it, `call` uses
/// what it got.
pub struct Bearer<S> {
    inner: S,
    layer: BearerLayer,
    pending: Option<TokenFuture>,
    ready: Option<HeaderValue>,
}

impl<S, B> Service<Request<B>> for Bearer<S>
where
    S: Service<Request<B>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        if self.ready.is_none() {
            let pending = self.pending.get_or_insert_with(|| {
                let BearerLayer {
                    tokens,
                    cluster,
                    region,
                } = self.layer.clone();
                Box::pin(async move { tokens.token(&cluster, region.as_deref()).await })
            });
            let token = ready!(pending.as_mut().poll(cx));
            self.pending = None;
            let token = token.map_err(BoxError::from)?;
            let mut value = HeaderValue::from_str(&format!("Bearer {}", token.token))?;
            value.set_sensitive(true);
            self.ready = Some(value);
        }
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        if let Some(value) = self.ready.take() {
            request.headers_mut().insert(AUTHORIZATION, value);
        }
        let response = self.inner.call(request);
        Box::pin(async move { response.await.map_err(Into::into) })
    }
}
