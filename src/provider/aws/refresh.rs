//! `Refresh`: one read of a stack, shared by its kinds. It knows the stack
//! (whose `payrun:stack` tag finds what state does not record) and every
//! kind's recorded items, and makes the reads many kinds answer from at
//! once, each once and only when a kind first needs it: the stack's tags in
//! the services the Resource Groups Tagging API covers (one paged call for
//! log groups, keys, repositories and Lattice objects alike), and IAM's
//! account authorization details (every role and customer managed policy
//! with its documents, attachments and tags, in pages of up to 1,000).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use aws_sdk_ec2::types::SecurityGroupRule;
use aws_sdk_iam::types::{EntityType, ManagedPolicyDetail, RoleDetail};
use aws_sdk_resourcegroupstagging::types::TagFilter;
use tokio::sync::OnceCell;

use super::AwsProvider;
use super::dispatch::Service;
use super::error::AwsResultExt;
use super::tags::{self, Tags};
use crate::provider::{ProviderError, ReadItem, Unrecorded};

/// The services whose tags a refresh reads through the tagging API, by
/// the service segment of payrun's kinds (`aws.logs.log_group` → `logs`),
/// with the tagging API's name for it.
const TAGGED_SERVICES: &[(&str, &str)] = &[
    ("logs", "logs"),
    ("kms", "kms"),
    ("ecr", "ecr"),
    ("vpclattice", "vpc-lattice"),
];

/// The stack's tagged resources, by ARN (a log group's without `:*`).
pub(crate) type Tagged = HashMap<String, Tags>;

/// Every resource of `services` the Resource Groups Tagging API lists
/// (those carrying `filter`, when given) with its tags, by ARN (a log
/// group's without `:*`): one GetResources call a page of 100.
pub(crate) async fn tagged_resources(
    aws: &AwsProvider,
    subject: &str,
    services: Vec<String>,
    filter: Option<TagFilter>,
) -> Result<Tagged, ProviderError> {
    let client = <aws_sdk_resourcegroupstagging::Client as Service>::of(aws).await;
    let pages: Vec<_> = client
        .get_resources()
        .set_tag_filters(filter.map(|f| vec![f]))
        .set_resource_type_filters(Some(services))
        .resources_per_page(100)
        // A resource carries three tags of payrun's at least: without this
        // an emulator ends a page at 100 tags.
        .tags_per_page(500)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .or_fail(subject, "tag:GetResources")?;
    Ok(pages
        .iter()
        .flat_map(|p| p.resource_tag_mapping_list())
        .filter_map(|m| {
            let arn = m.resource_arn()?.trim_end_matches(":*").to_string();
            let tags = m
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect();
            Some((arn, tags))
        })
        .collect())
}

/// A role as IAM's account authorization details and ListRoles give it.
#[derive(Clone, Debug)]
pub(crate) struct Role {
    pub detail: RoleDetail,
    pub description: Option<String>,
    pub max_session_duration: Option<i32>,
}

/// Every role (by name) and customer managed policy (by ARN) of the
/// account.
#[derive(Debug, Default)]
pub(crate) struct Iam {
    pub roles: HashMap<String, Role>,
    pub policies: HashMap<String, ManagedPolicyDetail>,
}

pub(crate) struct Refresh<'a> {
    aws: &'a AwsProvider,
    /// `None` for a kind read alone, outside a refresh of a stack.
    stack: Option<&'a str>,
    kinds: Option<&'a BTreeMap<String, Vec<ReadItem>>>,
    tagged: OnceCell<Result<Tagged, ProviderError>>,
    iam: OnceCell<Result<Iam, ProviderError>>,
    group_rules: OnceCell<Result<Vec<SecurityGroupRule>, ProviderError>>,
    unrecorded: Mutex<Vec<Unrecorded>>,
}

impl<'a> Refresh<'a> {
    /// A refresh of `stack`, whose recorded items are `kinds`.
    pub(crate) fn of_stack(
        aws: &'a AwsProvider,
        stack: &'a str,
        kinds: &'a BTreeMap<String, Vec<ReadItem>>,
    ) -> Self {
        Self::new(aws, Some(stack), Some(kinds))
    }

    /// A read of one kind's items, outside a refresh of a stack: by id.
    pub(crate) fn alone(aws: &'a AwsProvider) -> Self {
        Self::new(aws, None, None)
    }

    fn new(
        aws: &'a AwsProvider,
        stack: Option<&'a str>,
        kinds: Option<&'a BTreeMap<String, Vec<ReadItem>>>,
    ) -> Self {
        Self {
            aws,
            stack,
            kinds,
            tagged: OnceCell::new(),
            iam: OnceCell::new(),
            group_rules: OnceCell::new(),
            unrecorded: Mutex::new(Vec::new()),
        }
    }

    /// The stack read, when this is a refresh of one.
    pub(crate) fn stack(&self) -> Option<&str> {
        self.stack
    }

    /// The recorded items of `kind` in this refresh.
    pub(crate) fn items(&self, kind: &str) -> &[ReadItem] {
        self.kinds
            .and_then(|k| k.get(kind))
            .map_or(&[], Vec::as_slice)
    }

    /// An object of `kind` carrying the stack's tag that no item records.
    pub(crate) fn unrecorded(&self, kind: &str, id: &str, tags: &Tags) {
        self.unrecorded
            .lock()
            .expect("unrecorded")
            .push(Unrecorded {
                kind: kind.to_string(),
                id: id.to_string(),
                address: tags.get(tags::ADDRESS).cloned(),
            });
    }

    /// Each of `found` (id, tags) that carries the stack's tag and is not
    /// one of `items`, as unrecorded objects of `kind`.
    pub(crate) fn unrecorded_among<'t>(
        &self,
        kind: &str,
        items: &[ReadItem],
        found: impl IntoIterator<Item = (&'t str, &'t Tags)>,
    ) {
        let Some(stack) = self.stack else { return };
        for (id, t) in found {
            let ours = t.get(tags::STACK).is_some_and(|s| s == stack);
            if ours && !items.iter().any(|i| i.id == id) {
                self.unrecorded(kind, id, t);
            }
        }
    }

    pub(crate) fn take_unrecorded(&self) -> Vec<Unrecorded> {
        std::mem::take(&mut self.unrecorded.lock().expect("unrecorded"))
    }

    /// The stack's tagged resources in the services of [`TAGGED_SERVICES`]
    /// this refresh reads, by ARN: one GetResources call a page of 100,
    /// for all of them. `None` outside a refresh of a stack.
    pub(crate) async fn tagged(&self) -> Option<Result<&Tagged, ProviderError>> {
        let stack = self.stack?;
        let services: Vec<&str> = TAGGED_SERVICES
            .iter()
            .filter(|(ours, _)| {
                self.kinds
                    .is_some_and(|k| k.keys().any(|kind| kind.split('.').nth(1) == Some(*ours)))
            })
            .map(|(_, theirs)| *theirs)
            .collect();
        let result = self
            .tagged
            .get_or_init(|| async {
                if services.is_empty() {
                    return Ok(Tagged::new());
                }
                tagged_resources(
                    self.aws,
                    "the stack's tags",
                    services.iter().map(ToString::to_string).collect(),
                    Some(TagFilter::builder().key(tags::STACK).values(stack).build()),
                )
                .await
            })
            .await;
        Some(result.as_ref().map_err(Clone::clone))
    }

    /// Every rule of the stack's security groups, as `load` reads them the
    /// first time a kind asks (the groups' own read and both rule kinds
    /// share it).
    pub(crate) async fn group_rules<F>(
        &self,
        load: F,
    ) -> Result<&[SecurityGroupRule], ProviderError>
    where
        F: std::future::Future<Output = Result<Vec<SecurityGroupRule>, ProviderError>>,
    {
        self.group_rules
            .get_or_init(|| load)
            .await
            .as_ref()
            .map(Vec::as_slice)
            .map_err(Clone::clone)
    }

    /// Every role and customer managed policy of the account: IAM's
    /// account authorization details (documents, attachments, tags,
    /// permissions boundaries) and ListRoles (descriptions and session
    /// durations, which the details leave out), each in pages of up to
    /// 1,000.
    pub(crate) async fn iam(&self) -> Result<&Iam, ProviderError> {
        self.iam
            .get_or_init(|| async {
                let client = <aws_sdk_iam::Client as Service>::of(self.aws).await;
                let subject = "IAM roles and policies";
                let mut iam = Iam::default();
                let mut details = client
                    .get_account_authorization_details()
                    .filter(EntityType::Role)
                    .filter(EntityType::LocalManagedPolicy)
                    .max_items(1000)
                    .into_paginator()
                    .send();
                while let Some(page) = details.next().await {
                    let page = page.or_fail(subject, "iam:GetAccountAuthorizationDetails")?;
                    for r in page.role_detail_list() {
                        if let Some(name) = r.role_name() {
                            iam.roles.insert(
                                name.to_string(),
                                Role {
                                    detail: r.clone(),
                                    description: None,
                                    max_session_duration: None,
                                },
                            );
                        }
                    }
                    for p in page.policies() {
                        if let Some(arn) = p.arn() {
                            iam.policies.insert(arn.to_string(), p.clone());
                        }
                    }
                }
                let mut roles = client
                    .list_roles()
                    .max_items(1000)
                    .into_paginator()
                    .items()
                    .send();
                while let Some(role) = roles.next().await {
                    let role = role.or_fail(subject, "iam:ListRoles")?;
                    if let Some(known) = iam.roles.get_mut(role.role_name()) {
                        known.description = role.description().map(str::to_string);
                        known.max_session_duration = role.max_session_duration();
                    }
                }
                Ok(iam)
            })
            .await
            .as_ref()
            .map_err(Clone::clone)
    }
}
