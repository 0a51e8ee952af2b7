//! How an operation reaches the file of its kind: every kind is one entry
//! (`Kind`) of one table, built from the services' kind lists; each entry
//! takes its service's client from the provider (`Service`). Adding a kind
//! to a service is its file plus its name in that service's `kinds!` list;
//! a new service is its folder, its SDK crate and one line of `services!`.

use std::future::Future;
use std::pin::Pin;

use async_trait::async_trait;

use super::AwsProvider;
use super::refresh::Refresh;
use crate::provider::{
    Applied, CreateOp, DeleteOp, KindSchema, ProviderError, ReadItem, ReadResult, UpdateOp,
};

pub(super) type Call<'a, T> = Pin<Box<dyn Future<Output = Result<T, ProviderError>> + Send + 'a>>;

/// An SDK client the provider builds on first use, one per service.
#[async_trait]
pub(super) trait Service: Send + Sync + 'static {
    async fn of(aws: &AwsProvider) -> &Self;
}

/// The `complete` of a kind whose create takes more than one call.
pub(super) type Complete<C> = for<'a> fn(&'a C, &'a CreateOp, &'a Applied) -> Call<'a, Applied>;

/// One kind: its schema and its operations on its service's client `C`.
pub(super) struct Kind<C: 'static> {
    pub schema: &'static KindSchema,
    /// Reads the recorded items, in the refresh they are part of.
    pub read: for<'a> fn(&'a C, &'a Refresh<'a>, &'a [ReadItem]) -> Call<'a, Vec<ReadResult>>,
    /// The read lists the kind by the stack's tag, so it is read even with
    /// no item recorded (for what the tag finds); the others only with
    /// items.
    pub lists_stack: bool,
    pub create: for<'a> fn(&'a C, &'a CreateOp) -> Call<'a, Applied>,
    pub update: for<'a> fn(&'a C, &'a UpdateOp) -> Call<'a, Applied>,
    pub delete: for<'a> fn(&'a C, &'a DeleteOp) -> Call<'a, ()>,
    pub adopt: for<'a> fn(&'a C, &'a CreateOp) -> Call<'a, Option<Applied>>,
    /// Finishes a create that takes more than one call; the others have
    /// nothing to complete.
    pub complete: Option<Complete<C>>,
}

/// A kind of any service, as the provider's table holds it.
#[async_trait]
pub(super) trait Served: Send + Sync {
    async fn read(
        &self,
        aws: &AwsProvider,
        cx: &Refresh<'_>,
        items: &[ReadItem],
    ) -> Result<Vec<ReadResult>, ProviderError>;
    /// See [`Kind::lists_stack`].
    fn lists_stack(&self) -> bool;
    async fn create(&self, aws: &AwsProvider, op: &CreateOp) -> Result<Applied, ProviderError>;
    async fn update(&self, aws: &AwsProvider, op: &UpdateOp) -> Result<Applied, ProviderError>;
    async fn delete(&self, aws: &AwsProvider, op: &DeleteOp) -> Result<(), ProviderError>;
    async fn adopt(
        &self,
        aws: &AwsProvider,
        op: &CreateOp,
    ) -> Result<Option<Applied>, ProviderError>;
    async fn complete(
        &self,
        aws: &AwsProvider,
        op: &CreateOp,
        made: &Applied,
    ) -> Result<Applied, ProviderError>;
}

#[async_trait]
impl<C: Service> Served for Kind<C> {
    async fn read(
        &self,
        aws: &AwsProvider,
        cx: &Refresh<'_>,
        items: &[ReadItem],
    ) -> Result<Vec<ReadResult>, ProviderError> {
        (self.read)(C::of(aws).await, cx, items).await
    }
    fn lists_stack(&self) -> bool {
        self.lists_stack
    }
    async fn create(&self, aws: &AwsProvider, op: &CreateOp) -> Result<Applied, ProviderError> {
        (self.create)(C::of(aws).await, op).await
    }
    async fn update(&self, aws: &AwsProvider, op: &UpdateOp) -> Result<Applied, ProviderError> {
        (self.update)(C::of(aws).await, op).await
    }
    async fn delete(&self, aws: &AwsProvider, op: &DeleteOp) -> Result<(), ProviderError> {
        (self.delete)(C::of(aws).await, op).await
    }
    async fn adopt(
        &self,
        aws: &AwsProvider,
        op: &CreateOp,
    ) -> Result<Option<Applied>, ProviderError> {
        (self.adopt)(C::of(aws).await, op).await
    }
    async fn complete(
        &self,
        aws: &AwsProvider,
        op: &CreateOp,
        made: &Applied,
    ) -> Result<Applied, ProviderError> {
        match self.complete {
            Some(complete) => complete(C::of(aws).await, op, made).await,
            None => Ok(made.clone()),
        }
    }
}

/// `kinds!(Client; role, policy)` declares a service module's `KINDS`: one
/// `Kind` per kind module, forwarding each operation to
/// `<kind>::<operation>`. Flags after a colon: `complete` for a kind whose
/// create takes more than one call (it forwards `complete` too), `stack`
/// for a kind whose read lists it by the stack's tag (`vpc: complete |
/// stack`).
macro_rules! kinds {
    ($client:ty; $($kind:ident $(: $($flag:ident)|+)?),* $(,)?) => {
        pub(super) static KINDS: &[$crate::provider::aws::dispatch::Kind<$client>] = &[$(
            $crate::provider::aws::dispatch::Kind {
                schema: &$kind::SCHEMA,
                read: |c, cx, items| Box::pin($kind::read(c, cx, items)),
                lists_stack: kinds!(@stack $($($flag)+)?),
                create: |c, op| Box::pin($kind::create(c, op)),
                update: |c, op| Box::pin($kind::update(c, op)),
                delete: |c, op| Box::pin($kind::delete(c, op)),
                adopt: |c, op| Box::pin($kind::adopt(c, op)),
                complete: kinds!(@complete $kind $($($flag)+)?),
            }
        ),*];
    };
    (@complete $kind:ident complete $($rest:ident)*) => {
        Some(|c, op, made| Box::pin($kind::complete(c, op, made)))
    };
    (@complete $kind:ident $other:ident $($rest:ident)*) => {
        kinds!(@complete $kind $($rest)*)
    };
    (@complete $kind:ident) => {
        None
    };
    (@stack stack $($rest:ident)*) => {
        true
    };
    (@stack $other:ident $($rest:ident)*) => {
        kinds!(@stack $($rest)*)
    };
    (@stack) => {
        false
    };
}
