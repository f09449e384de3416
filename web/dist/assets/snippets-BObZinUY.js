function e(e=[]){let t=e.find(e=>!/^(\$|_INBOX\b)/.test(e))??e[0];return t?t.split(` `)[0].split(`.`).map(e=>e===`*`||e===`>`?`hello`:e).join(`.`):`hello`}function t(e){return String(e??``).split(`,`).map(e=>e.trim()).filter(Boolean)}var n=e=>JSON.stringify(String(e)),r=e=>/^[A-Za-z0-9@%+=:,./_-]+$/.test(e),i=e=>r(e)?e:`'${String(e).replace(/'/g,`'\\''`)}'`;function a(a){let o=t(a.natsUrl);if(!o.length)throw TypeError(`connectionSnippets: natsUrl is required`);let s=o.join(`,`),c=String(a.credsFile||`pocketbus.creds`),l=a.name||c.replace(/\.creds$/,``)||`pocketbus`,u=a.subject||e(a.pubAllow),d=String(a.appUrl??``).replace(/\/+$/,``),f=String(a.projectId??``),p=r(c)?`"$PWD/${c}"`:i(c),m=[`# in the folder where you saved ${c}`,`nats context save ${i(l)} --server ${i(s)} --creds ${p}`,`nats --context ${i(l)} pub ${i(u)} hi`].join(`
`),h=`package main

import (
	"fmt"
	"log"

	"github.com/nats-io/nats.go"
)

func main() {
	nc, err := nats.Connect(${n(s)}, nats.UserCredentials(${n(c)}))
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	fmt.Println("connected to", nc.ConnectedUrl())

	if err := nc.Publish(${n(u)}, []byte("hi")); err != nil {
		log.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		log.Fatal(err)
	}
}
`,g=`import { readFile } from "node:fs/promises";
import { Pocketbus } from "@pocketbus/client";

const pbus = new Pocketbus(${n(d)});
const nc = await pbus.connect(${n(f)}, {
  creds: await readFile(${n(c)}, "utf8"),
  servers: [${o.map(n).join(`, `)}],
});
console.log("connected to", nc.getServer());

nc.publish(${n(u)}, "hi");
await pbus.close(); // flushes, then closes
`,_=`import { Pocketbus } from "@pocketbus/client";

// In a browser, connect as a signed-in member: the SDK gets a short-lived
// web token and renews it. (Never ship a .creds file to a browser.)
const pbus = new Pocketbus(${n(d)});
await pbus.pb.collection("users").authWithPassword(email, password);
const nc = await pbus.connect(${n(f)});
console.log("connected to", nc.getServer());

nc.publish(${n(u)}, "hi");
`,v=`import asyncio

import nats


async def main():
    nc = await nats.connect(servers=[${o.map(n).join(`, `)}], user_credentials=${n(c)})
    print("connected to", nc.connected_url.netloc)
    await nc.publish(${n(u)}, b"hi")
    await nc.drain()


asyncio.run(main())
`,y=o.length===1?n(o[0]):`vec![${o.map(n).join(`, `)}]`,b=`#[tokio::main]
async fn main() -> Result<(), async_nats::Error> {
    let client = async_nats::ConnectOptions::with_credentials_file(${n(c)})
        .await?
        .connect(${y})
        .await?;
    println!("connected");

    client.publish(${n(u)}, "hi".into()).await?;
    client.flush().await?;
    Ok(())
}
`,x=`import io.nats.client.Connection;
import io.nats.client.Nats;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

public class Connect {
    public static void main(String[] args) throws Exception {
        try (Connection nc = Nats.connect(${n(s)}, Nats.credentials(${n(c)}))) {
            System.out.println("connected to " + nc.getConnectedUrl());
            nc.publish(${n(u)}, "hi".getBytes(StandardCharsets.UTF_8));
            nc.flush(Duration.ofSeconds(2));
        }
    }
}
`;return[{id:`cli`,label:`nats CLI`,language:`sh`,install:`nats CLI: github.com/nats-io/natscli`,code:m},{id:`go`,label:`Go`,language:`go`,install:`go get github.com/nats-io/nats.go`,code:h},{id:`node`,label:`JavaScript (Node)`,language:`js`,install:`npm install --install-links <pocketbus checkout>/sdk/js`,code:g},{id:`browser`,label:`JavaScript (browser)`,language:`js`,install:`npm install --install-links <pocketbus checkout>/sdk/js`,code:_},{id:`python`,label:`Python`,language:`python`,install:`pip install nats-py`,code:v},{id:`rust`,label:`Rust`,language:`rust`,install:`cargo add async-nats && cargo add tokio --features full`,code:b},{id:`java`,label:`Java`,language:`java`,install:`Maven/Gradle: io.nats:jnats`,code:x}]}export{a as connectionSnippets};