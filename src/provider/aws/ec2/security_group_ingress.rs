//! `aws.ec2.security_group_ingress`: one ingress rule of a security group.

use aws_sdk_ec2::Client;

use serde::Deserialize;

use super::security_group_rule::{self as rule, ARGS, Direction, RuleArgs, validate};
use crate::provider::schema::{ArgSpec, KindArgs, KindSchema};
use crate::provider::aws::refresh::Refresh;
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

/// An ingress rule's args: those of every security group rule.
#[derive(Deserialize)]
#[serde(transparent)]
pub(crate) struct IngressRuleArgs(pub(crate) RuleArgs);

impl IngressRuleArgs {
    /// The kind these are the args of.
    pub const KIND: &'static str = "aws.ec2.security_group_ingress";
}

impl KindArgs for IngressRuleArgs {
    const KIND: &'static str = Self::KIND;
    const SPECS: &'static [ArgSpec] = ARGS;
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: IngressRuleArgs::KIND,
    name_prefix: "sgr",
    name_max: 255,
    taggable: true,
    named_by_arg: false,
    create_before_destroy: false,
    args: ARGS,
    outputs: &[],
    validate: &validate,
    reads_each: None,
    doc: "An ingress rule: `security_group`, `protocol`, `from_port`, `to_port`, one of `cidr` or `source_security_group`, `description`.",
};

pub(super) async fn create(ec2: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    rule::create(ec2, op, Direction::Ingress).await
}

pub(super) async fn read(
    ec2: &Client,
    cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    rule::read(ec2, cx, SCHEMA.kind, items, Direction::Ingress).await
}

pub(super) async fn update(ec2: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    rule::update(ec2, op).await
}

pub(super) async fn delete(ec2: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    rule::delete(ec2, op, Direction::Ingress).await
}

pub(super) async fn adopt(ec2: &Client, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
    rule::adopt(ec2, op, Direction::Ingress).await
}
