//! How CloudFormation names read in a program: property names and type
//! names in snake case, spelled as Terraform's `awscc` provider spells them
//! (`internal/naming/naming.go`, `CloudFormationPropertyToTerraformAttribute`),
//! so users coming from it recognise them: `SSESpecification` is
//! `sse_specification`, `Ipv6CidrBlock` `ipv_6_cidr_block`, `WebACL`
//! `web_acl`.

/// Words the provider keeps whole before snake-casing.
const WHOLE: &[(&str, &str)] = &[
    ("CloudFormation", "Cloudformation"),
    ("CloudFront", "Cloudfront"),
    ("CloudWatch", "Cloudwatch"),
    ("CNAMEs", "Cnames"),
    ("FSx", "Fsx"),
    ("OTel", "Otel"),
];

/// A CloudFormation property (or type) name in snake case.
pub fn snake(name: &str) -> String {
    let name = whole_words(name.trim());
    let bytes = name.as_bytes();
    let (cap, low, dig) = (
        |c: u8| c.is_ascii_uppercase(),
        |c: u8| c.is_ascii_lowercase(),
        |c: u8| c.is_ascii_digit(),
    );
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &ch) in bytes.iter().enumerate() {
        let c = ch.to_ascii_lowercase() as char;
        if let Some(&n) = bytes.get(i + 1) {
            let boundary = (cap(ch) && low(n))
                || (low(ch) && (cap(n) || dig(n)))
                || (dig(ch) && (cap(n) || low(n)));
            if boundary {
                // `SSESpec`: the last capital of a run starts a word.
                if cap(ch) && low(n) && i > 0 && cap(bytes[i - 1]) {
                    out.push('_');
                }
                out.push(c);
                if low(ch) || dig(ch) {
                    out.push('_');
                }
                continue;
            }
        }
        out.push(if ch.is_ascii_alphanumeric() { c } else { '_' });
    }
    out
}

/// `name` with the [`WHOLE`] words replaced, copied only when it holds
/// one: it is asked of every property of every schema a program uses, and
/// of every type name for the kind index.
fn whole_words(name: &str) -> std::borrow::Cow<'_, str> {
    let bytes = name.as_bytes();
    let found = |i: usize| {
        WHOLE
            .iter()
            .find(|(from, _)| bytes[i..].starts_with(from.as_bytes()))
    };
    let Some(first) = (0..bytes.len()).find(|&i| found(i).is_some()) else {
        return std::borrow::Cow::Borrowed(name);
    };
    let mut out = String::with_capacity(name.len());
    out.push_str(&name[..first]);
    let mut i = first;
    while i < bytes.len() {
        match found(i) {
            Some((from, to)) => {
                out.push_str(to);
                i += from.len();
            }
            None => {
                let ch = name[i..].chars().next().expect("a character at a boundary");
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    std::borrow::Cow::Owned(out)
}

/// `AWS::WAFv2::WebACL` → (`wafv2`, `web_acl`): the service lower-cased,
/// the resource in snake case.
pub fn kind_parts(type_name: &str) -> Option<(String, String)> {
    let mut parts = type_name.split("::");
    let (org, service, resource) = (parts.next()?, parts.next()?, parts.next()?);
    if org != "AWS" || parts.next().is_some() {
        return None;
    }
    Some((service.to_ascii_lowercase(), snake(resource)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_spelled_as_terraform_awscc_spells_them() {
        for (cfn, ours) in [
            ("VisibilityTimeout", "visibility_timeout"),
            ("SSESpecification", "sse_specification"),
            ("KmsMasterKeyId", "kms_master_key_id"),
            ("KMSMasterKeyId", "kms_master_key_id"),
            (
                "PointInTimeRecoveryEnabled",
                "point_in_time_recovery_enabled",
            ),
            ("Ipv6CidrBlock", "ipv_6_cidr_block"),
            ("S3Bucket", "s3_bucket"),
            ("Ec2InstanceId", "ec_2_instance_id"),
            ("IPv6Address", "i_pv_6_address"),
            ("Http2", "http_2"),
            ("HTTP2", "http2"),
            ("CloudWatchLogsLogGroupArn", "cloudwatch_logs_log_group_arn"),
            ("CNAMEs", "cnames"),
            ("FSxLustre", "fsx_lustre"),
            ("WebACLArn", "web_acl_arn"),
            ("RoleARN", "role_arn"),
            ("DBInstanceIdentifier", "db_instance_identifier"),
            ("VPCDHCPOptionsAssociation", "vpcdhcp_options_association"),
            ("CloudFrontCloudWatchFSx", "cloudfront_cloudwatch_fsx"),
            ("MyCNAMEsOTelX", "my_cnames_otel_x"),
            ("", ""),
        ] {
            assert_eq!(snake(cfn), ours, "{cfn}");
        }
        assert_eq!(
            kind_parts("AWS::WAFv2::WebACL"),
            Some(("wafv2".into(), "web_acl".into()))
        );
        assert_eq!(
            kind_parts("AWS::SQS::Queue"),
            Some(("sqs".into(), "queue".into()))
        );
        assert_eq!(kind_parts("Custom::Thing::X"), None);
    }
}
