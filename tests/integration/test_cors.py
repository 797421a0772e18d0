"""CORS on HTTP listeners (issue 31): pages of the origins in http.allowed_origins may read
events and publish across origins, preflights are answered, and a page of any other
origin is refused — with raw requests, and with a real page in headless Chromium."""

import http.server
import socket
import threading


import mqtt_raw
import ws_raw
from conftest import launch_chromium, start_transport_broker

APP = "http://app.example"


def config(*origins):
    quoted = ", ".join(f'"{o}"' for o in origins)
    return f"[http]\nallowed_origins = [{quoted}]\nrequest_timeout_ms = 3000\n"


def ask(port, request):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(request)
    status, headers, _ = ws_raw.read_http_response(sock)
    sock.close()
    return status, {k.lower(): v for k, v in headers.items()}


def test_preflight_from_an_allowed_origin_is_answered(broker):
    b, ports = start_transport_broker(broker, None, ["http"], config=config(APP))
    status, headers = ask(ports["http"], (
        "OPTIONS /events?topic=a HTTP/1.1\r\nHost: x\r\nOrigin: " + APP + "\r\n"
        "Access-Control-Request-Method: POST\r\n"
        "Access-Control-Request-Headers: content-type\r\n\r\n").encode())
    assert status == 204
    assert headers["access-control-allow-origin"] == APP
    assert "POST" in headers["access-control-allow-methods"]
    assert headers["access-control-allow-headers"] == "content-type"


def test_post_and_events_carry_the_allowed_origin(broker):
    b, ports = start_transport_broker(broker, None, ["http", "mqtt"], config=config(APP))
    sub = mqtt_raw.connected(ports["mqtt"], "sub")
    sub.subscribe(("a", 0))
    status, headers = ask(ports["http"], (
        "POST /events?topic=a HTTP/1.1\r\nHost: x\r\nOrigin: " + APP + "\r\n"
        "Content-Length: 2\r\n\r\nhi").encode())
    assert status == 200
    assert headers["access-control-allow-origin"] == APP
    assert sub.next_message().payload == b"hi"
    status, headers = ask(ports["http"], (
        "GET /events?topic=a HTTP/1.1\r\nHost: x\r\nOrigin: " + APP + "\r\n\r\n").encode())
    assert status == 200
    assert headers["access-control-allow-origin"] == APP


def test_a_page_of_another_origin_is_refused_and_publishes_nothing(broker):
    b, ports = start_transport_broker(broker, None, ["http", "mqtt"], config=config(APP))
    sub = mqtt_raw.connected(ports["mqtt"], "sub")
    sub.subscribe(("a", 0))
    for request in (
            "POST /events?topic=a HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.example\r\n"
            "Content-Length: 2\r\n\r\nno",
            "OPTIONS /events?topic=a HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.example\r\n"
            "Access-Control-Request-Method: POST\r\n\r\n",
            "GET /events?topic=a HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.example\r\n\r\n"):
        status, headers = ask(ports["http"], request.encode())
        assert status == 403, request
        assert "access-control-allow-origin" not in headers
    sub.no_packet(timeout=0.5)
    # Requests without an Origin (curl, servers) and same-origin pages are not affected.
    port = ports["http"]
    assert ask(port, b"POST /events?topic=a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n1")[0] \
        == 200
    same = f"POST /events?topic=a HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n" \
           f"Origin: http://127.0.0.1:{port}\r\nContent-Length: 1\r\n\r\n2"
    assert ask(port, same.encode())[0] == 200
    assert [sub.next_message().payload for _ in range(2)] == [b"1", b"2"]


def test_no_origin_is_allowed_by_default(broker):
    b, ports = start_transport_broker(broker, None, ["http"])
    status, _ = ask(ports["http"], (
        "GET /events?topic=a HTTP/1.1\r\nHost: x\r\nOrigin: " + APP + "\r\n\r\n").encode())
    assert status == 403


PAGE = """<!doctype html><meta charset="utf-8"><title>cors</title><script>
const broker = new URLSearchParams(location.search).get("broker");
function post(topic, body) {
  // application/json: not a "simple" request, so the browser sends a preflight first.
  return fetch(broker + "/events?topic=" + topic,
               {method: "POST", headers: {"Content-Type": "application/json"}, body});
}
const events = new EventSource(broker + "/events?topic=cors/in");
events.onopen = () => post("cors/ready", JSON.stringify(navigator.userAgent));
events.onmessage = (e) => post("cors/shown", e.data);
</script>"""


def test_chromium_page_of_an_allowed_origin_reads_events_and_posts(broker, tmp_path):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text(PAGE)
    handler_class = type("Quiet", (http.server.SimpleHTTPRequestHandler,),
                         {"log_message": lambda *a: None})
    site = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a: handler_class(*a, directory=str(tmp_path / "site")))
    threading.Thread(target=site.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{site.server_address[1]}"
    b, ports = start_transport_broker(broker, None, ["http", "mqtt"], config=config(origin))
    watcher = mqtt_raw.connected(ports["mqtt"], "watcher")
    watcher.subscribe(("cors/ready", 0), ("cors/shown", 0))
    browser = launch_chromium(f"{origin}/index.html?broker=http://127.0.0.1:{ports['http']}",
                              tmp_path / "profile")
    try:
        ready = watcher.next_message(timeout=60)
        assert ready.topic == "cors/ready" and b"Chrome" in ready.payload
        pub = mqtt_raw.connected(ports["mqtt"], "pub")
        pub.publish("cors/in", b"hello across origins")
        shown = watcher.next_message(timeout=20)
        assert (shown.topic, shown.payload) == ("cors/shown", b"hello across origins")
    finally:
        browser.kill()
        browser.wait()
        site.shutdown()
    assert b.counters()["http_refused"] == 0
