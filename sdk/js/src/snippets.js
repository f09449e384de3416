// Ready-to-paste connection code for an issued credential: the nats CLI and
// the official clients. One pure function, so the web app shows exactly what
// the SDK's tests run (Go, Node and the browser code here; see README).

/** The subject an example publishes to: one the credential may publish on. */
export function exampleSubject(pubAllow = []) {
  const pick = pubAllow.find((s) => !/^(\$|_INBOX\b)/.test(s)) ?? pubAllow[0]
  if (!pick) return 'hello'
  const tokens = pick.split(' ')[0].split('.')
  const out = tokens.map((t) => (t === '*' || t === '>' ? 'hello' : t))
  return out.join('.')
}

/** "nats://a:4222,nats://b:4222" → ["nats://a:4222", "nats://b:4222"] */
export function natsUrls(url) {
  return String(url ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
}

// A JSON string is a valid string literal in JS, Go, Java, Rust and Python
// (for the characters a URL or a file name holds).
const lit = (s) => JSON.stringify(String(s))
const safeShell = (s) => /^[A-Za-z0-9@%+=:,./_-]+$/.test(s)
const sh = (s) => (safeShell(s) ? s : `'${String(s).replace(/'/g, `'\\''`)}'`)

/**
 * Connection snippets for one credential.
 * @param {object} o
 * @param {string} o.natsUrl   the advertised NATS URL(s), /api/pocketbus/info → nats.url (comma-separated)
 * @param {string} o.credsFile the .creds file's name as downloaded
 * @param {string} o.appUrl    the Pocketbus server (for the SDK)
 * @param {string} o.projectId
 * @param {string} [o.name]    nats CLI context name (default: the file name without .creds)
 * @param {string} [o.subject] subject the examples publish to (default: from pubAllow, else "hello")
 * @param {string[]} [o.pubAllow]
 * @returns {{id: string, label: string, language: string, install: string, code: string}[]}
 */
export function connectionSnippets(o) {
  const urls = natsUrls(o.natsUrl)
  if (!urls.length) throw new TypeError('connectionSnippets: natsUrl is required')
  const url = urls.join(',')
  const file = String(o.credsFile || 'pocketbus.creds')
  const name = o.name || file.replace(/\.creds$/, '') || 'pocketbus'
  const subject = o.subject || exampleSubject(o.pubAllow)
  const app = String(o.appUrl ?? '').replace(/\/+$/, '')
  const pid = String(o.projectId ?? '')

  const credsPath = safeShell(file) ? `"$PWD/${file}"` : sh(file)
  const cli = [
    `# in the folder where you saved ${file}`,
    `nats context save ${sh(name)} --server ${sh(url)} --creds ${credsPath}`,
    `nats --context ${sh(name)} pub ${sh(subject)} hi`,
  ].join('\n')

  const go = `package main

import (
	"fmt"
	"log"

	"github.com/nats-io/nats.go"
)

func main() {
	nc, err := nats.Connect(${lit(url)}, nats.UserCredentials(${lit(file)}))
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	fmt.Println("connected to", nc.ConnectedUrl())

	if err := nc.Publish(${lit(subject)}, []byte("hi")); err != nil {
		log.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		log.Fatal(err)
	}
}
`

  const node = `import { readFile } from "node:fs/promises";
import { Pocketbus } from "@pocketbus/client";

const pbus = new Pocketbus(${lit(app)});
const nc = await pbus.connect(${lit(pid)}, {
  creds: await readFile(${lit(file)}, "utf8"),
  servers: [${urls.map(lit).join(', ')}],
});
console.log("connected to", nc.getServer());

nc.publish(${lit(subject)}, "hi");
await pbus.close(); // flushes, then closes
`

  const browser = `import { Pocketbus } from "@pocketbus/client";

// In a browser, connect as a signed-in member: the SDK gets a short-lived
// web token and renews it. (Never ship a .creds file to a browser.)
const pbus = new Pocketbus(${lit(app)});
await pbus.pb.collection("users").authWithPassword(email, password);
const nc = await pbus.connect(${lit(pid)});
console.log("connected to", nc.getServer());

nc.publish(${lit(subject)}, "hi");
`

  const python = `import asyncio

import nats


async def main():
    nc = await nats.connect(servers=[${urls.map(lit).join(', ')}], user_credentials=${lit(file)})
    print("connected to", nc.connected_url.netloc)
    await nc.publish(${lit(subject)}, b"hi")
    await nc.drain()


asyncio.run(main())
`

  const rustAddr = urls.length === 1 ? lit(urls[0]) : `vec![${urls.map(lit).join(', ')}]`
  const rust = `#[tokio::main]
async fn main() -> Result<(), async_nats::Error> {
    let client = async_nats::ConnectOptions::with_credentials_file(${lit(file)})
        .await?
        .connect(${rustAddr})
        .await?;
    println!("connected");

    client.publish(${lit(subject)}, "hi".into()).await?;
    client.flush().await?;
    Ok(())
}
`

  const java = `import io.nats.client.Connection;
import io.nats.client.Nats;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

public class Connect {
    public static void main(String[] args) throws Exception {
        try (Connection nc = Nats.connect(${lit(url)}, Nats.credentials(${lit(file)}))) {
            System.out.println("connected to " + nc.getConnectedUrl());
            nc.publish(${lit(subject)}, "hi".getBytes(StandardCharsets.UTF_8));
            nc.flush(Duration.ofSeconds(2));
        }
    }
}
`

  return [
    { id: 'cli', label: 'nats CLI', language: 'sh', install: 'nats CLI: github.com/nats-io/natscli', code: cli },
    { id: 'go', label: 'Go', language: 'go', install: 'go get github.com/nats-io/nats.go', code: go },
    { id: 'node', label: 'JavaScript (Node)', language: 'js', install: 'npm install --install-links <pocketbus checkout>/sdk/js', code: node },
    { id: 'browser', label: 'JavaScript (browser)', language: 'js', install: 'npm install --install-links <pocketbus checkout>/sdk/js', code: browser },
    { id: 'python', label: 'Python', language: 'python', install: 'pip install nats-py', code: python },
    { id: 'rust', label: 'Rust', language: 'rust', install: 'cargo add async-nats && cargo add tokio --features full', code: rust },
    { id: 'java', label: 'Java', language: 'java', install: 'Maven/Gradle: io.nats:jnats', code: java },
  ]
}
