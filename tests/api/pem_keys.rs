//! SSH private keys as people have them (issue 13): PKCS#1, SEC1 and PKCS#8 (encrypted too)
//! next to OpenSSH; kept as sent, checked against their public half, passphrases checked.

use cofre::domain::authorization::Resource;
use cofre::service::pam::rotation::generate_key;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, Client, TestApp};
use crate::on_both_stores;
use crate::pam::device;

on_both_stores!(
    pem_and_pkcs8_keys_are_kept_as_sent,
    mismatched_public_keys_are_refused,
    encrypted_keys_need_their_passphrase
);

const PASSPHRASE: &str = "correct horse";

async fn pem_and_pkcs8_keys_are_kept_as_sent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Pam]).await;
    device(&app, &client, "aws01").await;
    let crlf = RSA_PKCS8.private.replace('\n', "\r\n");
    let cases = [
        ("pkcs1", RSA_PKCS1.private, RSA_PKCS1.public),
        ("pkcs8-rsa", RSA_PKCS8.private, RSA_PKCS8.public),
        ("sec1-p256", P256_SEC1.private, P256_SEC1.public),
        ("pkcs8-p256", P256_PKCS8.private, P256_PKCS8.public),
        ("sec1-p384", P384_SEC1.private, P384_SEC1.public),
        ("pkcs8-ed25519", ED25519_PKCS8.private, ED25519_PKCS8.public),
        ("crlf", crlf.as_str(), RSA_PKCS8.public),
        // ECDSA OpenSSH keys were refused too.
        ("openssh-p256", P256_OPENSSH.private, P256_OPENSSH.public),
    ];
    for (username, private, public) in cases {
        let path = if username == "pkcs1" { "/api/pam/key" } else { "/iso/pam/key" };
        let id =
            created(&app, &client, path, body(username, private, &format!("{public} {username}@laptop"), None)).await;
        let read = app.call(&client, Method::GET, &format!("/iso/pam/key/{id}")).await;
        assert_eq!(read.status, StatusCode::OK, "{}", read.body);
        // The contract shows private keys with CRLF line breaks; otherwise the text is the one sent.
        assert_eq!(read.body["key"]["private_key"], private.replace("\r\n", "\n").replace('\n', "\r\n"), "{username}");
        assert_eq!(read.body["key"]["public_key"], format!("{public} {username}@laptop"));
    }
    let garbage =
        body("bad", "-----BEGIN RSA PRIVATE KEY-----\nnope\n-----END RSA PRIVATE KEY-----", RSA_PKCS1.public, None);
    let reply = app.post_json(&client, "/iso/pam/key", garbage).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.body["response"]["message"],
        "The private_key is not a valid PKCS#1 RSA private key (cofre reads OpenSSH, PKCS#1, SEC1 and PKCS#8 private keys)."
    );
}

async fn mismatched_public_keys_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Pam]).await;
    device(&app, &client, "aws01").await;
    let (_, other_ed25519) = generate_key("ed25519").expect("key");
    let cases = [
        (RSA_PKCS1.private, RSA_PKCS8.public, None),
        (RSA_PKCS8.private, RSA_PKCS1.public, None),
        (P256_SEC1.private, P256_PKCS8.public, None),
        (P256_PKCS8.private, P256_SEC1.public, None),
        (P384_SEC1.private, P256_SEC1.public, None),
        (ED25519_PKCS8.private, other_ed25519.as_str(), None),
        (P256_SEC1.private, ED25519_PKCS8.public, None),
        (ED25519_PKCS8_ENCRYPTED.private, other_ed25519.as_str(), Some(PASSPHRASE)),
        (P256_PKCS8_ENCRYPTED.private, P256_SEC1.public, Some(PASSPHRASE)),
    ];
    for (n, (private, public, passphrase)) in cases.into_iter().enumerate() {
        let reply = app.post_json(&client, "/iso/pam/key", body(&format!("u{n}"), private, public, passphrase)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "case {n}: {}", reply.body);
        assert_eq!(reply.body["response"]["message"], "The public_key does not match the private_key.", "case {n}");
    }
}

async fn encrypted_keys_need_their_passphrase(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Pam]).await;
    device(&app, &client, "aws01").await;
    for (n, pair) in [ED25519_PKCS8_ENCRYPTED, P256_PKCS8_ENCRYPTED].into_iter().enumerate() {
        for (passphrase, message) in [
            (None, "The private_key is encrypted: give its passphrase in password."),
            (Some(""), "The private_key is encrypted: give its passphrase in password."),
            (
                Some("wrong horse"),
                "The password is not the private_key's passphrase (the key could not be decrypted with it).",
            ),
        ] {
            let reply =
                app.post_json(&client, "/iso/pam/key", body("enc", pair.private, pair.public, passphrase)).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{n} {passphrase:?}: {}", reply.body);
            assert_eq!(reply.body["response"]["message"], message, "{n} {passphrase:?}");
        }
        let id = created(
            &app,
            &client,
            "/iso/pam/key",
            body(&format!("enc{n}"), pair.private, pair.public, Some(PASSPHRASE)),
        )
        .await;
        let key = app.call(&client, Method::GET, &format!("/iso/pam/key/{id}")).await.body["key"].clone();
        assert_eq!(key["private_key"], pair.private.replace('\n', "\r\n"));
        assert!(key["private_key"].as_str().expect("text").starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
        assert_eq!(key["password"], PASSPHRASE);
    }

    // OpenSSH keys carry their public half in clear: without a passphrase the pair is still
    // checked, as before; a passphrase given must open the key.
    let openssh = ED25519_OPENSSH_ENCRYPTED;
    let reply =
        app.post_json(&client, "/iso/pam/key", body("ssh", openssh.private, openssh.public, Some("wrong horse"))).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert_eq!(
        reply.body["response"]["message"],
        "The password is not the private_key's passphrase (the key could not be decrypted with it)."
    );
    created(&app, &client, "/iso/pam/key", body("ssh", openssh.private, openssh.public, Some(PASSPHRASE))).await;
    created(&app, &client, "/iso/pam/key", body("ssh-no-passphrase", openssh.private, openssh.public, None)).await;

    // Legacy encrypted PEM (Proc-Type, DEK-Info) is not read: the answer says how to convert it.
    for passphrase in [None, Some(PASSPHRASE)] {
        let legacy = RSA_LEGACY_ENCRYPTED;
        let reply =
            app.post_json(&client, "/iso/pam/key", body("legacy", legacy.private, legacy.public, passphrase)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
        let message = reply.body["response"]["message"].as_str().expect("message");
        assert!(message.contains("legacy PEM") && message.contains("ssh-keygen -p -m PKCS8"), "{message}");
    }
}

fn body(username: &str, private: &str, public: &str, passphrase: Option<&str>) -> Value {
    let mut body = json!({"hostname": "aws01", "ip": "10.0.0.5", "username": username,
                          "private_key": private, "public_key": public});
    if let Some(p) = passphrase {
        body["password"] = p.into();
    }
    body
}

async fn created(app: &TestApp, client: &Client, path: &str, body: Value) -> String {
    let reply = app.post_json(client, path, body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["key"]["id"].as_str().expect("id").to_owned()
}

/// A private key and its OpenSSH public key.
#[derive(Clone, Copy)]
struct Pair {
    private: &'static str,
    public: &'static str,
}

// Fixtures made once with Debian's openssl 3.0 and OpenSSH 9.2 for these tests only; they guard
// nothing. Encrypted ones use the passphrase "correct horse".

/// PKCS#1 RSA, as AWS EC2 hands out (`ssh-keygen -t rsa -m PEM`).
const RSA_PKCS1: Pair = Pair {
    private: "-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEArSioqBYsIMOObwjUV+acI+IN4JrkfC5LDr2y4TiFRSPYPNgs
6XVbGd+E6XVcNk5yOG19J0sPcjibVA79RV+INn8r3ZzM1meN9coYFVy79yWe3CWw
yc5CiGTENZrkWHDvKsaXFAc/BLh89lwBueTaU0ec7CayWihQLAAdJp8KNbxBbaOr
igEAH9SGoUl3Zihvh/FJwZjEuMQbmLGjpwujHJq7Lq3bQO6LR1Z35QeeCbYRar3p
we8zQRS4kRJ37AXENwzGvjBt0MOfVzYXgby4495qZwp4jpFiB7fcnefFPWemNNmC
5o2xJ0AayUMNcrY0Uad6G919SJRqfHbAxNIEsQIDAQABAoIBABQv98203Asr0Vi3
jk37KDv0uEp1tGqX2Q9MZWTleoAPiD+7siy7jlXrXar8EDaSmbVjamJg2VmnKNC5
eKSUWSSFWf9ZrvXWF9JOb9VZvN446BbhXAWDAvW0zb00JCf9bpytj2J538p0mbj9
DAR4nk10PWK4tjVVmtcuYjek9gNCkIgy/w4cR7x8Et1N/g4sYVhwJWAO7yS/IvM9
CgsYfhfYaYF33R8vDDHIlVxq4qV0z4NPfsFKd1ch9DnXsap+13rJu8YtKJat+mh2
sOYjtTarb8JgMOqzBG6PUtHAVNDDlXh3MTBqQUOCaFHxG2s5pPPc7FQBLO5+hIyS
UxbxopsCgYEA6DXrt0gtMCBDsX4uJR2ikh+O6sOYnXnyE6h18W9VMbkLhj86/T2n
YC3jt0GVd3gLcaOEnk3kBdOGi+T83TtS2F3svvi7oAtnDBdfYOWfNQbvpoPIMUJg
6ossSn7OUWVq1aexB97cUb+9RPPho0GORpzSktEzEukaccRyx5vRyiMCgYEAvuYD
mfSvpfTiQaHuMaj0UM6tZYCP0Z2ZO3lsJxSys2I8Wi5PR/1XgaZykDkGDyutPRVO
+IAdc0z6XnfrM9rh3RFbc1ghKi9aw1CwUggRI8GR/Ypeu1TWA4me38SyM9yH7Buv
jbBpmPmXC391K8sYefpCcZ9Iu14A/3ea6S+LMRsCgYEAxJn6g4ghcjCu/5Tkftoz
bWI4v31xNksr8QbdLNflGp8gKb5ZNFXB40WXGe32HVtO3RzjyKAL4f7wWHs8uBZl
Evma2yl+uYdN7MfRIhnnjJ7dwm6qzUH1Cj9g9YWdKv8hz9kVoqNGiBQ9rCaMMIvt
aM2X32QtyOIBWLdJssSzf18CgYAtd2kaLP38v9N3oFKz/zKZYHBKAZG/chLB6IyK
zlI1iUsoi2kUk1FZLsSQdxRrXpK3PrD9XL4m7QmgoF0jj5lF5tFqKm5Tts2eQUSN
dSBn7L2Rrngbk/wZAZkWYKm00myJHpr0WzT7W07PTT8h/BBLVQCoQTC4d44zSlBa
A5naSwKBgHerCW15qXdfEOvODeJmljPow5lQAFhp6tFInI1dsLaKsZSMV/oTeUym
SiSTPVLk/ffjtSkLvmjX24CO9QTu56IEzxlgZpyosreYhr8FxhFWXQs2iq7xrSaC
Unk1S6Ho2rlMVSACdfu/zIDy8Iz1V5Zm0/fZr+/iXxAXCoAuGm8A
-----END RSA PRIVATE KEY-----
",
    public: "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCtKKioFiwgw45vCNRX5pwj4g3gmuR8LksOvbLhOIVFI9g82CzpdVsZ34TpdVw2TnI4bX0nSw9yOJtUDv1FX4g2fyvdnMzWZ431yhgVXLv3JZ7cJbDJzkKIZMQ1muRYcO8qxpcUBz8EuHz2XAG55NpTR5zsJrJaKFAsAB0mnwo1vEFto6uKAQAf1IahSXdmKG+H8UnBmMS4xBuYsaOnC6McmrsurdtA7otHVnflB54JthFqvenB7zNBFLiREnfsBcQ3DMa+MG3Qw59XNheBvLjj3mpnCniOkWIHt9yd58U9Z6Y02YLmjbEnQBrJQw1ytjRRp3ob3X1IlGp8dsDE0gSx",
};

/// PKCS#8 RSA (`openssl genpkey -algorithm RSA`).
const RSA_PKCS8: Pair = Pair {
    private: "-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDiKnIXS74MlnJc
45msadZzLqoODtF0iz3i+4nutBwe2lnHO2GCF50L5tzetW0kTGH2IyRPzrLwE2Lk
iODc/01iKzT0o23bHETvFKTFhcqwPe8wp5gPwXdGDcAJu7QQCyAz3VxpkIlZ3D39
dFtF/XGmyFl2pfLF+t7OHdsq1iKFMTWADlh+ExRI1kuMlOzejQ0dH5ThnR+jYt/e
8ubrvKnMhSVidLCHMm8Yfwtp7ppBdgtW/dt/8I0iY0XkqjOQX85ZxFTYwsxSAU8Y
6pBF2HIFWjHbJwdg5j6Gag2UeapVBFi+mj5/B8IAGn3kOSQkCrdPxfElxej9n0x3
UJflSv77AgMBAAECggEAU8IidKwxWxoQioQj8m1T5V5fzksAmSfEKJ69a3C6hVaa
LyW3q+Uw3SqHm9cW7312PiCvnvrO3Ahh9H8Yv9+w+e1EdGFeGupyQRSlHR26feDC
B4PZ1ePxVzlaaIBiZBqqt2qAgfvsUiI1tvrzno0JHRpPv5gfu+B3yV/XPhsFt8ta
Wz/ofyG3M1G+SA1ZpQ+jsZFQ3vo5QIXf9HiUXQdFJEqJnz5DBm3PLux7CabvrhgK
8tEIn0vZ2di7d4megHQTcBsa6Gu96pEdMmFQwZjjlBulTifss12noLVJg7a3u1f7
Oij/uecnXRJfRcNk916FUvlBOTn9tdshA9RbG0ZDwQKBgQD21IDsv9OvWLLZT9Ws
dKLD2tVHiX6PGwlaqfkwB06okkE83AhnqBDNsHEq1buME0bUw2VXohy4z62cXnLa
AVke/hdelSzjs3AzJmcroOYCFGH7i67U51wUYwgs0ORF88H79cVlUmKXlLoARSlt
RmClFwKh8ydtsLRR1X5gz2v+GwKBgQDqkWmq0+ZI8cYgJdIPpeK55OxO4Y2eFA+5
eh6h9aL7wg7a3kkS9KkjoSmLP2hmx5dWnGnpTIpPsMxeKLi/OdZ+isPJaQMVPi7O
7y90RCUrUaAHtp9PHm/GT+z0sup8NMswpDU5AAUKT228HT7VSZ0Ruzg81E+ePwSU
T4O7PWOQoQKBgQDmffRSoKM9d9ezhJCk9VnVCPHnVqbfXcDzcAwpZHl4gvL2sQYM
Pe5LFXvoIyR6nrmjD0AAgHrPveeCQNSBbYbaoS4TfbwoebTJnw/yttJymLQS4RKG
7/GVfBDzQLIZ/JFmBtCpWDCHGjRC8lLIH1M6du1XbCeij8MjM/lK0AcphwKBgGOt
IRLncp8ipkd46tedbUgDQGuQq0Y2TixJ+YRnRjfnUbqt5K16a/lo/adfbXTncabr
VpI95TRR87Y7Za5U3JHvU51d02KOhwOGXkrwvj63M+KzNuU/EM5bnlypPr1DDekA
jmFHYdzsvbvHTbEC1Az52r72lVKwgrinRVomjw2hAoGAFQOc8aTkW0tkCY7PVh0N
2BMx6aRYFgpvYCYSCOXvbiFlBSPng/jUU73frEzKicwee9aoLNjVe2wtz3h4NpMH
Hd8TDkB4ubiORgyvrKkfWRLCRgtBo+XCJ3lXsM1T7KZ8IpH8+xLBS8ppYne39Phn
reyCTuczhsTj+1vPjhGG308=
-----END PRIVATE KEY-----
",
    public: "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDiKnIXS74MlnJc45msadZzLqoODtF0iz3i+4nutBwe2lnHO2GCF50L5tzetW0kTGH2IyRPzrLwE2LkiODc/01iKzT0o23bHETvFKTFhcqwPe8wp5gPwXdGDcAJu7QQCyAz3VxpkIlZ3D39dFtF/XGmyFl2pfLF+t7OHdsq1iKFMTWADlh+ExRI1kuMlOzejQ0dH5ThnR+jYt/e8ubrvKnMhSVidLCHMm8Yfwtp7ppBdgtW/dt/8I0iY0XkqjOQX85ZxFTYwsxSAU8Y6pBF2HIFWjHbJwdg5j6Gag2UeapVBFi+mj5/B8IAGn3kOSQkCrdPxfElxej9n0x3UJflSv77",
};

/// SEC1 P-256 (`openssl ecparam -name prime256v1 -genkey -noout`).
const P256_SEC1: Pair = Pair {
    private: "-----BEGIN EC PRIVATE KEY-----
MHcCAQEEILFgeI1wSDIIop0zuiK/p11XY+jgDewU6kr/0xUdC9yHoAoGCCqGSM49
AwEHoUQDQgAEZ5PpGxQabVsf/UFIYGwjBGx6kE6ru+gQw+Kvlo0v/us99r2Hr2jj
MTy+z8yfBPDSpDSUU1xKs1ahl7zeqQpc2Q==
-----END EC PRIVATE KEY-----
",
    public: "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBGeT6RsUGm1bH/1BSGBsIwRsepBOq7voEMPir5aNL/7rPfa9h69o4zE8vs/MnwTw0qQ0lFNcSrNWoZe83qkKXNk=",
};

/// PKCS#8 P-256 (`openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`).
const P256_PKCS8: Pair = Pair {
    private: "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgXcqpxXy3Mo7lrvMR
rnBoRTVbS9ERIrTbDglJ/4skDZ6hRANCAATveyYkYgH+d7SvksC6WkpX4oqhpVzp
JppLvmGnvjurhydojZ9jC43oAmHTHbjuBTYcbpxGSc0aeY0dGedv2Cs0
-----END PRIVATE KEY-----
",
    public: "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBO97JiRiAf53tK+SwLpaSlfiiqGlXOkmmku+Yae+O6uHJ2iNn2MLjegCYdMduO4FNhxunEZJzRp5jR0Z52/YKzQ=",
};

/// SEC1 P-384 (`openssl ecparam -name secp384r1 -genkey -noout`).
const P384_SEC1: Pair = Pair {
    private: "-----BEGIN EC PRIVATE KEY-----
MIGkAgEBBDAwtyAGTioqi5rmHlqoZ/NRuCRFc7V2qLF9tsaRICwwwoK65FeGRRxK
eY368gP5f2SgBwYFK4EEACKhZANiAASEsDwqF5Q1pm9d9VyKLcLiBEvRBCafklpR
y5tGvmQn6/t+9dlzuwmAF+zmhB7DDX7iGNyo4Nx1XE7wWt2DGxXxmbs+QLRPozhM
afjlgb4LZ/aZ6803tBKbRa/Shhy5zeg=
-----END EC PRIVATE KEY-----
",
    public: "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBISwPCoXlDWmb131XIotwuIES9EEJp+SWlHLm0a+ZCfr+3712XO7CYAX7OaEHsMNfuIY3Kjg3HVcTvBa3YMbFfGZuz5AtE+jOExp+OWBvgtn9pnrzTe0EptFr9KGHLnN6A==",
};

/// PKCS#8 Ed25519 (`openssl genpkey -algorithm ed25519`).
const ED25519_PKCS8: Pair = Pair {
    private: "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIPv+ZHMw71MN7FwI0GiqrqqUBrw4tT9rW0K0ZRWCKIrr
-----END PRIVATE KEY-----
",
    public: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHZuO+VBx9Mz1WNwxn2wF6dDUV5bu/LdmQRuy84EL4Me",
};

/// The Ed25519 key above as encrypted PKCS#8 (`openssl pkcs8 -topk8`: PBKDF2, AES-256-CBC).
const ED25519_PKCS8_ENCRYPTED: Pair = Pair {
    private: "-----BEGIN ENCRYPTED PRIVATE KEY-----
MIGbMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAjBFX143J00ogICCAAw
DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEP6gIkNPhAxFPTLM3SepboEEQFL6
IQav2jyd3Gn5T4SEXVGB4f8lJVpNffjvzuyxP1YC4ia5DXIWwLHLdl9hgjRszI9V
giM+5oSvHD2TxWInUAw=
-----END ENCRYPTED PRIVATE KEY-----
",
    public: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHZuO+VBx9Mz1WNwxn2wF6dDUV5bu/LdmQRuy84EL4Me",
};

/// Encrypted PKCS#8 P-256 as `ssh-keygen -t ecdsa -m PKCS8 -N …` writes it (PBKDF2, AES-128-CBC).
const P256_PKCS8_ENCRYPTED: Pair = Pair {
    private: "-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAioETqqhC/TUAICCAAw
DAYIKoZIhvcNAgkFADAdBglghkgBZQMEAQIEEHJAmetbB/yv/f6IuHCXs3kEgZCw
yt3gisnXJ5rTMZcZG3dV1z553lfmRt0sHt6gcZ4NFy7y9gRbOKIYxzd9lDjlyVAu
pG/fQ+Ao+YEGIDU0Pqj0ZpwNX4Boz4uFEISDIDTcDzhJ+Drpdy/64JajyRSwn5mX
Z8TQMRt888ar4S3oBOdhnSI97JA7u6V4ttl7pxRIexwjqjgpojO3Zjx6v8hrMb8=
-----END ENCRYPTED PRIVATE KEY-----
",
    public: "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBP3CVGQpr+Vg6zVdG60DlVgVaWd3yIs9jDwSmLmlzwPun1xDKmHzEihEM3BKdLk8r403am0VPT08Iamz7d4wIno=",
};

/// Encrypted OpenSSH Ed25519 (`ssh-keygen -t ed25519 -N …`).
const ED25519_OPENSSH_ENCRYPTED: Pair = Pair {
    private: "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABDGh671ce
3E5a8wXu1LAIkwAAAAEAAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAIDS+Hk2GpciOkg5P
+cVDaBeBbTUpRen2Ps/CSkqDkocpAAAAkCuPm0ABz2VYjPFeUMtd5HEuU6wK+vIfKcxVBU
zRHQewLJgqwmSMo8T5rKB85mPA0+SAyCT3lznoXTV5/Bdlu+kjsCzuoxgMiaWLJFhMFoGi
6UFZJ9AmJwAANjki7QtWw/HIc0seEJhtXTFNY/8y50Yj7Aid8SH347jXtKlksKExcEh27M
pCq0nDAd4D7Xj8tQ==
-----END OPENSSH PRIVATE KEY-----
",
    public: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDS+Hk2GpciOkg5P+cVDaBeBbTUpRen2Ps/CSkqDkocp",
};

/// Legacy encrypted PEM (`ssh-keygen -t rsa -m PEM -N …`: Proc-Type and DEK-Info headers).
const RSA_LEGACY_ENCRYPTED: Pair = Pair {
    private: "-----BEGIN RSA PRIVATE KEY-----
Proc-Type: 4,ENCRYPTED
DEK-Info: AES-128-CBC,4BF28F5FBA54CAB4CCDFD35A135A5448

0rI56wS+z8CdhpjUdIn9oxJw4dkZuKKmnbsRtuYyd/IzubIF9hGG+H3eWqa2u7FF
WIKG+eJ1k3jS0LXj2fSSDdDcrjG56SoJGAAxvMZrl5mwNJ5slqT+gd//nERG0fcW
6rH3TYqjeTb7MaHdDuAA/TeQXhRNDDwOf8mfK1XorkK+UwyF6Bdcys3bf5p9N4RQ
BLWpyH8sEgFHuaOy2d5337CrwgJJVvKhlDNog7Ozqw7nA7+YKV0cSn1KL/2wT1UH
0TghzzFsPUzFqs8ksIEmFqI8bG775x65B3iR2iAbc3ui6ROS7/qCec6I7PizY7dE
e8TW0radmUDtC/C+2pD9/QIi2koziEnfNw/ZunCxpqFAh6UQjMP23cou4WCN3Tcl
76g1iNgLDH5hc2f7kOwb0U0aSvzFWOQLiVYUJmQpH8OexJdkskSprwhe2oBE/quB
a6ai2FdLzj93idNiZrbbQaIIpKkPuRFebr9GHy5FN/XrMKVLIKWNZSaIdWqlQyYT
siwjIVS3bG9guO3OQIS+QQ2MCKzfMTlhUYjHtqWUC3q9ldGvLQChQ8BBUI5yh33Z
kuyfxITi0GG2T4CX1MkdYA/wD9K0Y3SsxqzavdCZMd83+mkrtALsuof6yK11vzB3
SPbfgo+lY6d1WiReEoIRBT/JhNyHJolCMS8Zluj3GWrS3QEj3usvE0Mf3ZfWYvGf
Khwn193JUCmRWN0W5GciiIQtl4uu5tvsciv+H3dnFrwuLulcLvBoRJeLmQooKbMI
xy/6qPeRUQqCLuC9TIG4LHDlWcG6+OdvjBJmaX4UKX//vf2OCrlt6uOv2hWw19be
KfnrfUS9wO688SXOgbB7rIU33A0mshLaA5tOMlsBStdosn2kUDFYJuwHieaej2cS
QW40mtrrSE/42K3sh9k9SmdGuoM+IuPnRpBcNRw9EHWT+p54B3UOVKCCk8hmLK4N
7hBAm86c9ou7erWGkE23bK6EPDaWJMMsiiZ1H2EPZKBsO2Urr9jPYiSjCOw26I9T
N6VR3gljNB82j1VzwDvKuTuzMDhjTKgm2JtbgyHs4rDY+UgDoKD87z6hgKsvCPGt
F+cZVI50wrGBN0oaV1z50xb1J8Sib8oYv1fDrELEpiMdxhBx4vjltSgwbjm2ZnvS
DIvJp3lwC2yTFpuSSuHvc9ZJYu/4AwyWAwZgoh0mBeV0C9TvpIhbUpY3rpctlEjx
MWoM5rZqI9ozA/In8Cafi+S1+T9FkaL7Qh6GaPrMX88zADafy7kPTjb4Hgi/ZH4Z
bWWUfg8PvGhEKc5wHwTXXuKLv35y+QeMXO7GoS8a7M3gpODGS57pFIIwBB36YQwB
fgkQ4HUCiblrCK/jz/pz9XfMn3HBIYilrtrNKVIwSVyQGgT01sGKGzjkXd13SXwy
rcL0PI+tgPqTOUkhZMcvf/r79FZxxEBP1W/CJrCM+9OIPEpd/S4hMx1SYytE9LRy
D0jfSFNiJXG7oaDt2rHMs3coldeuZdzJsc4PnFslhk4aKx5PPWl7QpEWM+PhcV0w
xpZVmaQDFa0dhkoEHotVGkAaSTr/Sst1X4mdDtDqK5L93trz1o59wBw8iSfzcryN
-----END RSA PRIVATE KEY-----
",
    public: "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCZzWt5AqZC5dCRrM5a4eVNTg8LR5vV49SZzd+yttsBj/7mosZbOxKePByoqn5rWoIep7bc+8lQJDs9dl2a2O4zxRCpxNxTmGbT5Ji/9u4BwaCEQyQMzpOCl/InzTigrVcXFXeoSaRG6c1ehc8IxZ7YCYPyOy6+1epOVlHPqABqQYPg0RPOpGtXznD9sq4VA7wlYRMWnqQAovhPTo1gbBh1iXiSRloau1w00hHwRRZcibYLuC86XTXzU/LQOs5PIgVRfDAoakm4hAIH7XIzNyFKNEafOop3P3AyKYaOrgcpUV96T6VvLe5wLXRI52oWgZ48wzJGo2ZDCQd8wGgPz07z",
};

/// OpenSSH P-256 (`ssh-keygen -t ecdsa`).
const P256_OPENSSH: Pair = Pair {
    private: "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAaAAAABNlY2RzYS
1zaGEyLW5pc3RwMjU2AAAACG5pc3RwMjU2AAAAQQSX4ofcqDJZE6f5okoaYtf5iEkw2Xt9
kbSxKIy7nvW6qjHQDAjdt/AAQQt6HCDWc/tZ4naBz1JT5VD18l6TLh6kAAAAmAXrWogF61
qIAAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBJfih9yoMlkTp/mi
Shpi1/mISTDZe32RtLEojLue9bqqMdAMCN238ABBC3ocINZz+1nidoHPUlPlUPXyXpMuHq
QAAAAgGyq21X+GFRX5LUYxmi60K4lMIPjOf0vuVWwoTj3QwakAAAAA
-----END OPENSSH PRIVATE KEY-----
",
    public: "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBJfih9yoMlkTp/miShpi1/mISTDZe32RtLEojLue9bqqMdAMCN238ABBC3ocINZz+1nidoHPUlPlUPXyXpMuHqQ=",
};
