/**
 * The built-in demo: an Envoy v3 bootstrap for a small shop, with upstream ports filled
 * in once the demo services are listening. It goes through the same YAML loader as a
 * user's file.
 */
export interface DemoPorts {
  listener: number;
  web: number[];
  api: number[];
  canary: number[];
}

const endpoints = (ports: number[]): string =>
  ports
    .map(
      (port) => `
                - endpoint:
                    address:
                      socket_address: { address: 127.0.0.1, port_value: ${port} }`,
    )
    .join('');

export function demoConfigYaml(ports: DemoPorts): string {
  return `# ProxyScope built-in demo: one listener, three clusters; retries on /api/, outlier
# detection on web, active health checks on api.
static_resources:
  listeners:
    - name: ingress
      address:
        socket_address: { address: 127.0.0.1, port_value: ${ports.listener} }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress_http
                access_log:
                  - name: envoy.access_loggers.stdout
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog
                http_filters:
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
                route_config:
                  name: shop_routes
                  virtual_hosts:
                    - name: shop
                      domains: ["shop.example.com", "*.shop.example.com", "127.0.0.1:*", "localhost:*"]
                      routes:
                        - name: healthz
                          match: { path: /healthz }
                          direct_response: { status: 200, body: { inline_string: "ok\\n" } }
                        - name: old_shop
                          match: { prefix: /old-shop }
                          redirect: { path_redirect: /, response_code: FOUND }
                        - name: api
                          match: { prefix: /api/ }
                          route:
                            cluster: api
                            prefix_rewrite: /v1/
                            timeout: 2s
                            retry_policy:
                              retry_on: 5xx,reset,connect-failure
                              num_retries: 2
                              host_selection_retry_max_attempts: 3
                              retry_host_predicate:
                                - name: envoy.retry_host_predicates.previous_hosts
                                  typed_config:
                                    "@type": type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate
                        - name: static
                          match: { prefix: /static/ }
                          route: { cluster: web }
                        - name: storefront
                          match: { prefix: / }
                          route:
                            weighted_clusters:
                              clusters:
                                - { name: web, weight: 90 }
                                - { name: web_canary, weight: 10 }
  clusters:
    - name: web
      type: STATIC
      connect_timeout: 0.25s
      lb_policy: ROUND_ROBIN
      outlier_detection:
        consecutive_5xx: 3
        interval: 5s
        base_ejection_time: 10s
        max_ejection_percent: 34
      load_assignment:
        cluster_name: web
        endpoints:
          - lb_endpoints:${endpoints(ports.web)}
    - name: web_canary
      type: STATIC
      connect_timeout: 0.25s
      load_assignment:
        cluster_name: web_canary
        endpoints:
          - lb_endpoints:${endpoints(ports.canary)}
    - name: api
      type: STATIC
      connect_timeout: 0.25s
      lb_policy: LEAST_REQUEST
      health_checks:
        - timeout: 1s
          interval: 5s
          unhealthy_threshold: 3
          healthy_threshold: 2
          http_health_check: { path: /healthz }
      circuit_breakers:
        thresholds:
          - { priority: DEFAULT, max_pending_requests: 16, max_connections: 8 }
      load_assignment:
        cluster_name: api
        endpoints:
          - lb_endpoints:${endpoints(ports.api)}
`;
}
