"""A loopback SMTP server for the email tests (aiosmtpd), and a reader of .eml files.

    python smtp_sink.py serve PORT DIR   accept mail on 127.0.0.1:PORT; each message is written
                                         to DIR as N.eml and N.json; prints "ready" once listening
    python smtp_sink.py parse FILE.eml   print the message's JSON summary

The JSON summary (to, subject, body, and each attachment's file name, type, size and SHA-256)
is decoded by Python's email package, independently of the
code that encoded the message.
"""

import email
import email.policy
import hashlib
import json
import pathlib
import sys
import threading


def summary(raw: bytes) -> dict:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    body = msg.get_body(preferencelist=("plain",))
    return {
        "from": str(msg["From"]),
        "to": str(msg["To"]),
        "subject": str(msg["Subject"]),
        "message_id": str(msg["Message-ID"]),
        "content_type": msg.get_content_type(),
        "body": body.get_content() if body is not None else None,
        "attachments": [
            {
                "filename": part.get_filename(),
                "content_type": part.get_content_type(),
                "size": len(part.get_content()),
                "sha256": hashlib.sha256(part.get_content()).hexdigest(),
            }
            for part in msg.iter_attachments()
        ],
    }


class Handler:
    def __init__(self, folder: pathlib.Path):
        self.folder = folder
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            n = self.count
        raw = envelope.original_content or envelope.content
        data = summary(raw)
        data["rcpt_tos"] = envelope.rcpt_tos
        (self.folder / f"{n}.eml").write_bytes(raw)
        tmp = self.folder / f".{n}.json"
        tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        tmp.rename(self.folder / f"{n}.json")
        return "250 OK"


def main() -> None:
    if sys.argv[1] == "parse":
        print(json.dumps(summary(pathlib.Path(sys.argv[2]).read_bytes()), ensure_ascii=False))
        return
    from aiosmtpd.controller import Controller

    port, folder = int(sys.argv[2]), pathlib.Path(sys.argv[3])
    folder.mkdir(parents=True, exist_ok=True)
    controller = Controller(Handler(folder), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        sys.stdin.read()  # until the test closes our standard input or kills us
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
