//! `kinds!`: the per-service dispatch of each operation to the file of the
//! kind, generated from the list of kind modules.

/// `kinds!(Client; role, policy)` declares `SCHEMAS`, `serves` and the five
/// operations of a service module, each forwarding to `<kind>::<operation>`.
/// `kinds!(Client; vpc, subnet; complete: vpc)` also forwards `complete` to
/// the kinds whose create takes more than one call; for the others there is
/// nothing to complete.
macro_rules! kinds {
    ($client:ty; $($kind:ident),* $(,)? ; complete: $($multi:ident),* $(,)?) => {
        kinds!(@ops $client; $($kind),*);

        pub(super) async fn complete(
            client: &$client,
            op: &$crate::provider::CreateOp,
            made: &$crate::provider::Applied,
        ) -> Result<$crate::provider::Applied, $crate::provider::ProviderError> {
            let kind = op.address.kind();
            $(if kind == $multi::SCHEMA.kind {
                return $multi::complete(client, op, made).await;
            })*
            Ok(made.clone())
        }
    };
    ($client:ty; $($kind:ident),* $(,)?) => {
        kinds!(@ops $client; $($kind),*);

        #[allow(dead_code)]
        pub(super) async fn complete(
            _client: &$client,
            _op: &$crate::provider::CreateOp,
            made: &$crate::provider::Applied,
        ) -> Result<$crate::provider::Applied, $crate::provider::ProviderError> {
            Ok(made.clone())
        }
    };
    (@ops $client:ty; $($kind:ident),*) => {
        pub(super) static SCHEMAS: &[$crate::provider::KindSchema] = &[$($kind::SCHEMA),*];

        pub(super) fn serves(kind: &str) -> bool {
            $(kind == $kind::SCHEMA.kind)||*
        }

        pub(super) async fn read(
            client: &$client,
            kind: &str,
            items: &[$crate::provider::ReadItem],
        ) -> Result<Vec<$crate::provider::ReadResult>, $crate::provider::ProviderError> {
            $(if kind == $kind::SCHEMA.kind {
                return $kind::read(client, items).await;
            })*
            Err(super::unknown_kind(kind))
        }

        pub(super) async fn create(
            client: &$client,
            op: &$crate::provider::CreateOp,
        ) -> Result<$crate::provider::Applied, $crate::provider::ProviderError> {
            let kind = op.address.kind();
            $(if kind == $kind::SCHEMA.kind {
                return $kind::create(client, op).await;
            })*
            Err(super::unknown_kind(kind))
        }

        pub(super) async fn update(
            client: &$client,
            op: &$crate::provider::UpdateOp,
        ) -> Result<$crate::provider::Applied, $crate::provider::ProviderError> {
            let kind = op.address.kind();
            $(if kind == $kind::SCHEMA.kind {
                return $kind::update(client, op).await;
            })*
            Err(super::unknown_kind(kind))
        }

        pub(super) async fn delete(
            client: &$client,
            op: &$crate::provider::DeleteOp,
        ) -> Result<(), $crate::provider::ProviderError> {
            let kind = op.address.kind();
            $(if kind == $kind::SCHEMA.kind {
                return $kind::delete(client, op).await;
            })*
            Err(super::unknown_kind(kind))
        }

        pub(super) async fn adopt(
            client: &$client,
            op: &$crate::provider::CreateOp,
        ) -> Result<Option<$crate::provider::Applied>, $crate::provider::ProviderError> {
            let kind = op.address.kind();
            $(if kind == $kind::SCHEMA.kind {
                return $kind::adopt(client, op).await;
            })*
            Err(super::unknown_kind(kind))
        }
    };
}
