{{fetch}}
cat > /etc/systemd/system/recommender@.service <<'UNIT'
{{unit}}UNIT
if [[ "$TARGET_SIGNAL" == enabled ]]; then
  install -d -m 0755 /etc/systemd/system/recommender@.service.d
  cat > /etc/systemd/system/recommender@.service.d/60-target-signal.conf <<'DROPIN'
[Service]
ExecStart=
{{exec_start}}
DROPIN
fi
systemctl daemon-reload
systemctl enable --now recommender@{{model}}.service
{{signal}}