//! Discovery: every object of a kind in the account and region, read the
//! way a refresh reads (one Describe per kind and page; the tags of log
//! groups, keys and repositories from one Resource Groups Tagging API
//! read), with what AWS makes by itself left out: a default VPC and what
//! hangs on it, a VPC's main route table, its `default` security group,
//! the `local` route, AWS managed keys.

use std::collections::{HashMap, HashSet};

use aws_sdk_ec2::types::{RouteTable, SecurityGroup, SecurityGroupRule, Subnet, Vpc};
use serde_json::{Map, json};
use tokio::sync::OnceCell;

use super::AwsProvider;
use super::dispatch::Service;
use super::ec2::described::{Described, describe_all};
use super::error::AwsResultExt;
use super::tags::{self, Tags};
use crate::provider::{Listed, ProviderError};

/// The kinds discovery lists.
pub(crate) const LISTED: &[&str] = &[
    "aws.ec2.vpc",
    "aws.ec2.subnet",
    "aws.ec2.internet_gateway",
    "aws.ec2.route_table",
    "aws.ec2.route",
    "aws.ec2.route_table_association",
    "aws.ec2.security_group",
    "aws.ec2.security_group_ingress",
    "aws.ec2.security_group_egress",
    "aws.kms.key",
    "aws.logs.log_group",
    "aws.ecr.repository",
];

/// One discovery: the calls several kinds answer from (the VPCs, the
/// route tables, the groups, the tagging API's tags), each made once.
#[derive(Default)]
pub(crate) struct Discovery {
    vpcs: OnceCell<Result<Vec<Vpc>, ProviderError>>,
    tables: OnceCell<Result<Vec<RouteTable>, ProviderError>>,
    groups: OnceCell<Result<Vec<SecurityGroup>, ProviderError>>,
    tagged: OnceCell<Result<HashMap<String, Tags>, ProviderError>>,
}

fn listed(id: &str, tags: Option<Tags>) -> Listed {
    Listed {
        id: id.to_string(),
        name: tags.as_ref().and_then(|t| t.get("Name").cloned()),
        tags,
        parent: None,
        seed: Map::new(),
    }
}

impl Discovery {
    async fn vpcs(&self, aws: &AwsProvider) -> Result<&[Vpc], ProviderError> {
        let ec2 = <aws_sdk_ec2::Client as Service>::of(aws).await;
        self.vpcs
            .get_or_init(|| describe_all::<Vpc>(ec2, "discovery"))
            .await
            .as_deref()
            .map_err(Clone::clone)
    }

    /// The ids of the default VPCs: what hangs on them is AWS's.
    async fn default_vpcs(&self, aws: &AwsProvider) -> Result<HashSet<String>, ProviderError> {
        Ok(self
            .vpcs(aws)
            .await?
            .iter()
            .filter(|v| v.is_default() == Some(true))
            .map(|v| v.id().to_string())
            .collect())
    }

    async fn tables(&self, aws: &AwsProvider) -> Result<Vec<&RouteTable>, ProviderError> {
        let ec2 = <aws_sdk_ec2::Client as Service>::of(aws).await;
        let defaults = self.default_vpcs(aws).await?;
        let all = self
            .tables
            .get_or_init(|| describe_all::<RouteTable>(ec2, "discovery"))
            .await
            .as_deref()
            .map_err(Clone::clone)?;
        Ok(all
            .iter()
            .filter(|t| !defaults.contains(t.vpc_id().unwrap_or_default()))
            .filter(|t| !t.associations().iter().any(|a| a.main() == Some(true)))
            .collect())
    }

    async fn groups(&self, aws: &AwsProvider) -> Result<Vec<&SecurityGroup>, ProviderError> {
        let ec2 = <aws_sdk_ec2::Client as Service>::of(aws).await;
        let defaults = self.default_vpcs(aws).await?;
        let all = self
            .groups
            .get_or_init(|| describe_all::<SecurityGroup>(ec2, "discovery"))
            .await
            .as_deref()
            .map_err(Clone::clone)?;
        Ok(all
            .iter()
            .filter(|g| !defaults.contains(g.vpc_id().unwrap_or_default()))
            .filter(|g| g.group_name() != Some("default"))
            .collect())
    }

    /// The tags of every tagged log group, key and repository, by ARN: one
    /// GetResources read, 100 to a page. What it does not list has no tag.
    async fn tagged(&self, aws: &AwsProvider) -> Result<&HashMap<String, Tags>, ProviderError> {
        self.tagged
            .get_or_init(|| async {
                super::refresh::tagged_resources(
                    aws,
                    "discovery",
                    vec!["logs".into(), "kms".into(), "ecr".into()],
                    None,
                )
                .await
            })
            .await
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Every object of `kind` in the account and region but for AWS's own;
    /// `None` for a kind discovery does not list.
    pub(crate) async fn list(
        &self,
        aws: &AwsProvider,
        kind: &str,
    ) -> Option<Result<Vec<Listed>, ProviderError>> {
        Some(match kind {
            "aws.ec2.vpc" => self.list_vpcs(aws).await,
            "aws.ec2.subnet" => self.list_subnets(aws).await,
            "aws.ec2.internet_gateway" => self.list_gateways(aws).await,
            "aws.ec2.route_table" => self.tables(aws).await.map(|tables| {
                tables
                    .iter()
                    .map(|t| listed(t.id(), Some(tags::from_aws(t.tags()))))
                    .collect()
            }),
            "aws.ec2.route" => self.list_routes(aws).await,
            "aws.ec2.route_table_association" => self.list_associations(aws).await,
            "aws.ec2.security_group" => self.groups(aws).await.map(|groups| {
                groups
                    .iter()
                    .map(|g| {
                        let mut l = listed(g.id(), Some(tags::from_aws(g.tags())));
                        l.name = l.name.or_else(|| g.group_name().map(str::to_string));
                        l
                    })
                    .collect()
            }),
            "aws.ec2.security_group_ingress" => self.list_rules(aws, false).await,
            "aws.ec2.security_group_egress" => self.list_rules(aws, true).await,
            "aws.kms.key" => self.list_keys(aws).await,
            "aws.logs.log_group" => self.list_log_groups(aws).await,
            "aws.ecr.repository" => self.list_repositories(aws).await,
            _ => return None,
        })
    }

    async fn list_vpcs(&self, aws: &AwsProvider) -> Result<Vec<Listed>, ProviderError> {
        Ok(self
            .vpcs(aws)
            .await?
            .iter()
            .filter(|v| v.is_default() != Some(true))
            .map(|v| {
                let mut l = listed(v.id(), Some(tags::from_aws(v.tags())));
                // Both DNS attributes are read (EC2 has no batched form):
                // the program writes what they are.
                l.seed = json!({ "enable_dns_support": true, "enable_dns_hostnames": true })
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                l
            })
            .collect())
    }

    async fn list_subnets(&self, aws: &AwsProvider) -> Result<Vec<Listed>, ProviderError> {
        let ec2 = <aws_sdk_ec2::Client as Service>::of(aws).await;
        let defaults = self.default_vpcs(aws).await?;
        Ok(describe_all::<Subnet>(ec2, "discovery")
            .await?
            .iter()
            .filter(|s| !defaults.contains(s.vpc_id().unwrap_or_default()))
            .map(|s| listed(s.id(), Some(tags::from_aws(s.tags()))))
            .collect())
    }

    async fn list_gateways(&self, aws: &AwsProvider) -> Result<Vec<Listed>, ProviderError> {
        let ec2 = <aws_sdk_ec2::Client as Service>::of(aws).await;
        let defaults = self.default_vpcs(aws).await?;
        Ok(
            describe_all::<aws_sdk_ec2::types::InternetGateway>(ec2, "discovery")
                .await?
                .iter()
                .filter(|g| {
                    !g.attachments()
                        .iter()
                        .any(|a| defaults.contains(a.vpc_id().unwrap_or_default()))
                })
                .map(|g| listed(g.id(), Some(tags::from_aws(g.tags()))))
                .collect(),
        )
    }

    /// The routes of the listed tables, but for `local` (the VPC's own).
    async fn list_routes(&self, aws: &AwsProvider) -> Result<Vec<Listed>, ProviderError> {
        let mut out = Vec::new();
        for t in self.tables(aws).await? {
            for r in t.routes() {
                let Some(cidr) = r.destination_cidr_block() else {
                    continue;
                };
                if r.gateway_id() == Some("local") {
                    continue;
                }
                let mut l = listed(&format!("{}_{cidr}", t.id()), None);
                l.parent = Some(t.id().to_string());
                l.seed.insert("route_table".into(), json!(t.id()));
                l.seed.insert("destination_cidr".into(), json!(cidr));
                out.push(l);
            }
        }
        Ok(out)
    }

    async fn list_associations(&self, aws: &AwsProvider) -> Result<Vec<Listed>, ProviderError> {
        let mut out = Vec::new();
        for t in self.tables(aws).await? {
            for a in t.associations() {
                let (Some(id), Some(_)) = (a.route_table_association_id(), a.subnet_id()) else {
                    continue;
                };
                let mut l = listed(id, None);
                l.parent = Some(t.id().to_string());
                out.push(l);
            }
        }
        Ok(out)
    }

    /// The rules of the listed groups, in one DescribeSecurityGroupRules
    /// call per 200 groups (and page).
    async fn list_rules(
        &self,
        aws: &AwsProvider,
        egress: bool,
    ) -> Result<Vec<Listed>, ProviderError> {
        let ec2 = <aws_sdk_ec2::Client as Service>::of(aws).await;
        let groups: Vec<String> = self
            .groups(aws)
            .await?
            .iter()
            .map(|g| g.id().to_string())
            .collect();
        let mut out = Vec::new();
        for chunk in groups.chunks(200) {
            let rules: Vec<SecurityGroupRule> =
                super::ec2::described::describe(ec2, "discovery", "group-id", chunk.to_vec())
                    .await?;
            for r in rules.iter().filter(|r| r.is_egress() == Some(egress)) {
                let group = r.group_id().unwrap_or_default();
                let mut l = listed(r.id(), Some(tags::from_aws(r.tags())));
                l.parent = Some(group.to_string());
                l.seed.insert("security_group".into(), json!(group));
                out.push(l);
            }
        }
        Ok(out)
    }

    /// Customer managed keys, enabled: AWS managed keys and keys pending
    /// deletion are left out.
    async fn list_keys(&self, aws: &AwsProvider) -> Result<Vec<Listed>, ProviderError> {
        let kms = <aws_sdk_kms::Client as Service>::of(aws).await;
        let tagged = self.tagged(aws).await?;
        let mut out = Vec::new();
        for meta in super::kms::customer_keys(kms, "discovery").await? {
            let arn = meta.arn().unwrap_or_default();
            let mut l = listed(
                meta.key_id(),
                Some(tagged.get(arn).cloned().unwrap_or_default()),
            );
            l.name = l.name.or_else(|| {
                meta.description()
                    .filter(|d| !d.is_empty())
                    .map(str::to_string)
            });
            out.push(l);
        }
        Ok(out)
    }

    async fn list_log_groups(&self, aws: &AwsProvider) -> Result<Vec<Listed>, ProviderError> {
        let logs = <aws_sdk_cloudwatchlogs::Client as Service>::of(aws).await;
        let tagged = self.tagged(aws).await?;
        let groups: Vec<_> = logs
            .describe_log_groups()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .or_fail("discovery", "logs:DescribeLogGroups")?;
        Ok(groups
            .iter()
            .filter_map(|g| {
                let name = g.log_group_name()?;
                let arn = g.arn().unwrap_or_default().trim_end_matches(":*");
                let mut l = listed(name, Some(tagged.get(arn).cloned().unwrap_or_default()));
                l.name = Some(name.to_string());
                l.seed.insert("name".into(), json!(name));
                Some(l)
            })
            .collect())
    }

    async fn list_repositories(&self, aws: &AwsProvider) -> Result<Vec<Listed>, ProviderError> {
        let ecr = <aws_sdk_ecr::Client as Service>::of(aws).await;
        let tagged = self.tagged(aws).await?;
        let repos: Vec<_> = ecr
            .describe_repositories()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .or_fail("discovery", "ecr:DescribeRepositories")?;
        let mut out = Vec::with_capacity(repos.len());
        for r in &repos {
            let Some(name) = r.repository_name() else {
                continue;
            };
            let arn = r.repository_arn().unwrap_or_default();
            // The tagging API lists tagged repositories; one it does not
            // list is asked (an emulator without ECR in its tagging API
            // lists none).
            let tags = match tagged.get(arn) {
                Some(t) => t.clone(),
                None => super::ecr::from_aws(
                    ecr.list_tags_for_resource()
                        .resource_arn(arn)
                        .send()
                        .await
                        .or_fail("discovery", "ecr:ListTagsForResource")?
                        .tags(),
                ),
            };
            let mut l = listed(name, Some(tags));
            l.name = Some(name.to_string());
            l.seed.insert("name".into(), json!(name));
            out.push(l);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_kind_is_a_kind_of_the_provider() {
        for kind in LISTED {
            assert!(
                super::super::SCHEMAS.iter().any(|s| s.kind == *kind),
                "{kind}"
            );
        }
    }
}
