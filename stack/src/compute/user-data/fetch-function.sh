fetch_artifact() {
  local key=$1 dest=$2 imds token role creds
  imds=$(printenv IMDS_ENDPOINT || echo http://169.254.169.254)
  token=$(curl -sf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$imds/latest/api/token") || return 1
  role=$(curl -sf -H "X-aws-ec2-metadata-token: $token" "$imds/latest/meta-data/iam/security-credentials/") || return 1
  creds=$(curl -sf -H "X-aws-ec2-metadata-token: $token" "$imds/latest/meta-data/iam/security-credentials/$role") || return 1
  field() { grep -o "\"$1\" *: *\"[^\"]*\"" <<<"$creds" | sed 's/.*: *"\(.*\)"$/\1/'; }
  if curl -sf --retry 3 --aws-sigv4 "aws:amz:$ARTIFACT_REGION:s3" \
      --user "$(field AccessKeyId):$(field SecretAccessKey)" \
      -H "x-amz-security-token: $(field Token)" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
      -o "$dest.part" "$S3_ENDPOINT/$key"; then
    mv -f "$dest.part" "$dest"
  else
    rm -f "$dest.part"
    return 1
  fi
}
