//! `/lab` over real sockets: bytes a learner built are judged by a fresh protocol core and the
//! report comes back to the learner alone; the lab's own limits (input size, command rate, its
//! connection's message size) hold at their edges.

mod support;

use serde_json::{json, Value};
use support::{RawClient, TestServer};

fn ask(client: &mut RawClient, command: &Value) -> Value {
    client.send_text(&command.to_string());
    serde_json::from_str(&client.read_text()).expect("the lab answers JSON")
}

#[test]
fn an_unmasked_frame_is_judged_1002_and_the_lab_stays_open() {
    let server = TestServer::start();
    let mut lab = RawClient::connect(server.addr, "/lab");
    let report = ask(
        &mut lab,
        &json!({"type": "feed", "hex": "81 02 68 69", "chunks": [1, 3]}),
    );
    assert_eq!(report["type"], "report");
    assert_eq!(report["reads"], 2);
    let verdict = &report["verdict"];
    assert_eq!(
        verdict["headline"],
        "1002 — §5.1 a client must mask every frame"
    );
    assert_eq!(
        (&verdict["code"], &verdict["offset"], &verdict["section"]),
        (&json!(1002), &json!(0), &json!("§5.1"))
    );
    let kinds: Vec<&str> = report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["step"].as_str())
        .collect();
    assert_eq!(kinds, ["read", "read", "frame", "failed", "reply"]);
    // The lab's own connection was not failed: it answers the next command.
    let report = ask(
        &mut lab,
        &json!({"type": "feed", "hex": "81 85 37 fa 21 3d 7f 9f 4d 51 58"}),
    );
    assert_eq!(report["verdict"]["kind"], "open");
    assert_eq!(report["steps"][2]["text"], "Hello");
}

#[test]
fn every_preset_gets_its_answer_over_the_socket() {
    let server = TestServer::with(|c| c.lab.commands_per_second = 1000);
    let mut lab = RawClient::connect(server.addr, "/lab");
    let list = ask(&mut lab, &json!({"type": "presets"}));
    let presets = list["presets"].as_array().expect("presets").clone();
    assert!(presets.len() >= 20);
    for preset in presets {
        let report = ask(
            &mut lab,
            &json!({"type": "feed", "hex": preset["hex"],
            "chunks": preset["reads"], "limits": preset["limits"], "deflate": preset["deflate"]}),
        );
        let verdict = &report["verdict"];
        match (&preset["answer"]["fail"], verdict["kind"].as_str()) {
            (Value::Null, Some(kind)) => assert_ne!(kind, "failed", "{}", preset["id"]),
            (fail, _) => {
                assert_eq!(verdict["code"], fail["code"], "{}", preset["id"]);
                assert_eq!(verdict["section"], fail["section"], "{}", preset["id"]);
            }
        }
    }
}

#[test]
fn lab_bytes_reach_no_other_client() {
    let server = TestServer::start();
    let mut listener = RawClient::connect(server.addr, "/broadcast");
    let mut lab = RawClient::connect(server.addr, "/lab");
    server.wait_for_hub_clients(2);
    ask(
        &mut lab,
        &json!({"type": "preset", "id": "rfc-masked-hello"}),
    );
    ask(&mut lab, &json!({"type": "preset", "id": "unmasked"}));
    // The first thing the broadcast client hears is its own message, not the lab's.
    listener.send_text("mine");
    assert_eq!(listener.read_text(), "mine");
}

#[test]
fn input_over_the_lab_limit_is_refused_and_at_the_limit_is_fed() {
    let server = TestServer::with(|c| c.lab.max_input = 6);
    let mut lab = RawClient::connect(server.addr, "/lab");
    let at = ask(
        &mut lab,
        &json!({"type": "feed", "hex": "82 80 00 00 00 00"}),
    );
    assert_eq!(at["type"], "report");
    let over = ask(
        &mut lab,
        &json!({"type": "feed", "hex": "82 80 00 00 00 00 00"}),
    );
    assert_eq!(over["error"], "input_too_large");
    let preset = ask(&mut lab, &json!({"type": "preset", "id": "rfc-64k-binary"}));
    assert_eq!(preset["error"], "input_too_large");
}

#[test]
fn commands_over_the_lab_rate_are_refused() {
    let server = TestServer::with(|c| c.lab.commands_per_second = 3);
    let mut lab = RawClient::connect(server.addr, "/lab");
    // Twenty commands in one write: a one-second window holds at most three of them.
    let command = support::masked_frame(true, 0x1, br#"{"type":"feed","hex":"81 00"}"#);
    lab.send_raw(&command.repeat(20));
    let answers: Vec<Value> = (0..20)
        .map(|_| serde_json::from_str(&lab.read_text()).expect("JSON"))
        .collect();
    let refused = answers
        .iter()
        .filter(|a| a["error"] == "rate_limited")
        .count();
    let reported = answers.iter().filter(|a| a["type"] == "report").count();
    assert_eq!(refused + reported, 20);
    // The first three are fed; the window refuses the rest until a second has passed.
    assert!(answers[..3].iter().all(|a| a["type"] == "report"));
    assert!(refused > 0, "{reported} of 20 reported");
}

#[test]
fn the_lab_connection_has_its_own_message_limit() {
    // --lab-max-input 100: /lab messages may be 4 × 100 + 4096 = 4496 bytes.
    let server = TestServer::with(|c| {
        c.lab.max_input = 100;
        c.lab.commands_per_second = 100;
    });
    let mut lab = RawClient::connect(server.addr, "/lab");
    let command = r#"{"type":"presets"}"#;
    let at_limit = format!("{command}{}", " ".repeat(4496 - command.len()));
    lab.send_text(&at_limit);
    let list: Value = serde_json::from_str(&lab.read_text()).expect("JSON");
    assert_eq!(list["max_input"], 100);
    let over = format!("{at_limit} ");
    lab.send_text(&over);
    let close = lab.expect_close();
    assert_eq!(close.close_code(), Some(1009));
    // Other endpoints keep the server's limits: a larger echo is fine.
    let mut echo = RawClient::connect(server.addr, "/echo");
    echo.send_text(&over);
    assert_eq!(echo.read_text(), over);
}
