if [[ "$TARGET_SIGNAL" == enabled ]]; then
  cat > /etc/alb-canary-signal.env <<'ENV'
SIGNAL_LISTEN=0.0.0.0:{{listen_port}}
SIGNAL_UPSTREAM=127.0.0.1:{{upstream}}
SIGNAL_LOAD_BALANCER=${{{alb_id}}.LoadBalancerFullName}
SIGNAL_TARGET_GROUP=${{{target_group}}.TargetGroupFullName}
ENV
  cat > /etc/systemd/system/{{signal}}.service <<'UNIT'
{{unit}}UNIT
  systemctl daemon-reload
  systemctl enable --now {{signal}}.service
fi
