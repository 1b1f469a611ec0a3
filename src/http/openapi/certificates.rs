//! The certificates operations, as `/openapi.json` describes them.

use super::spec::*;
use crate::http::{CERTIFICATE_PATHS, PUBLISHING_PATHS};

fn paging() -> [Field; 2] {
    [integer("offset").doc("Items to skip; default 0"), integer("limit").doc("1 to 500; default 500")]
}

fn request_fields() -> Vec<Field> {
    vec![
        integer("certificate_type").required().doc("1 (DV), 2 (OV) or 3 (EV)"),
        text("domain_type").required().doc("SING, MULT or WILD"),
        text("organization").required(),
        text("common_name").required().doc("A host name; *.name for WILD"),
        list("san").doc("Alternative names (MULT or WILD); the common name is always included"),
        list("san[]").doc("Same as san"),
        list("tags"),
        list("tags[]").doc("Same as tags"),
        text("encryption").required().doc("RSA or DSA"),
        integer("encryption_key_size").required().doc("4096, 2048 or 1024"),
        text("certificate_algorithm").required().doc("SHA256, SHA384 or SHA512; DSA takes SHA256 only"),
        integer("validity").required().doc("Days the certificate will be valid"),
        secret("key_password").doc("8 to 1024 characters; without it the key cannot be exported"),
        secret("password_revogation").doc("8 to 1024 characters; then needed to revoke"),
        list("environments"),
        list("environments[]").doc("Same as environments"),
        list("systems"),
        list("systems[]").doc("Same as systems"),
        text("project"),
        text("external_ip").doc("An IP address"),
        text("hostname_ip"),
        text("justification").doc("At most 1024 characters"),
        text("responsible"),
        text("description").doc("At most 512 characters"),
    ]
}

fn request_filters() -> Vec<Field> {
    let mut fields = vec![
        integer("status_request"),
        text("common_name").doc("Exact match, case-insensitive"),
        text("domain_type").doc("SING, MULT or WILD"),
        integer("certificate_type").doc("1 (DV), 2 (OV) or 3 (EV)"),
        text("organization"),
        text("project"),
    ];
    fields.extend(paging());
    fields
}

fn certificate_filters() -> Vec<Field> {
    let mut fields = vec![
        integer("status_certificate").doc("1 valid, 2 revoked, 3 renewal pending, 4 expired"),
        text("origin_certificate").doc("SCAN, REQU or IMPO"),
        text("common_name").doc("Exact match, case-insensitive"),
        text("start_validity").doc("YYYY-MM-DD"),
        text("end_validity").doc("YYYY-MM-DD"),
        boolean("active").doc("1: valid or due for renewal; 0: revoked or expired"),
    ];
    fields.extend(paging());
    fields
}

fn sign_fields() -> Vec<Field> {
    vec![
        boolean("self_signed").doc("Required (or auto_assinado): self-signed rather than by a CA"),
        boolean("auto_assinado").doc("Portuguese name of self_signed"),
        text("ca").doc("Id or name of a cofre authority; required unless self-signed"),
        text("reason").doc("Required (or motivo); at most 255 characters"),
        text("motivo").doc("Portuguese name of reason"),
        text("justification").doc("At most 1024 characters"),
        text("justificativa").doc("Portuguese name of justification"),
        text("itsm_code").doc("At most 128 characters"),
        boolean("auto_renew").doc("Renew with the same CA before expiry; not when self-signed"),
        boolean("renovacao_automatica").doc("Portuguese name of auto_renew"),
        integer("renewal_days").doc("Days before expiry a renewal is due: 1 to 365, default 30"),
    ]
}

const UPSERT: &str = "201 when the item is registered, 200 when an existing one is replaced.";

pub fn family() -> Family {
    let mut ops = Vec::new();
    for (base, sign, listing, import, scan, list_by_code) in CERTIFICATE_PATHS {
        let one = if list_by_code {
            "Show the certificate signed from the request with this code, or with this numeric id"
        } else {
            "Show a certificate by its numeric id"
        };
        ops.extend([
            post(format!("{base}/request/{{code}}"), "Create or replace a certificate request")
                .fields(request_fields())
                .created()
                .errors(&[200, 409])
                .entity("certificate")
                .describe("201 when registered, 200 when a pending request is replaced; a signed one is a 409."),
            get(format!("{base}/request/list"), "List certificate requests")
                .fields(request_filters())
                .entities("certificates"),
            get(format!("{base}/request/list/{{code}}"), "List the request with this code")
                .fields(request_filters())
                .entities("certificates"),
            get(format!("{base}/request/{sign}/{{code}}"), "Sign a certificate request")
                .fields(sign_fields())
                .errors(&[409])
                .entity("certificate")
                .describe("A GET that signs: its parameters travel in the query string; a request is signed once."),
            get(format!("{base}/{listing}"), "List certificates")
                .fields(certificate_filters())
                .entities("certificates"),
            get(format!("{base}/{listing}/{{id}}"), one).fields(certificate_filters()).entities("certificates"),
            post(format!("{base}/export/{{id}}"), "Export a certificate with its encrypted key")
                .fields([secret("key_password").required().doc("The key password its request or import set")])
                .entity("certificate")
                .describe("private_key comes back as encrypted PKCS#8 PEM under that same key_password."),
            post(format!("{base}/revoke/{{id}}"), "Revoke a certificate")
                .fields([
                    secret("password_revogation").doc("Required when the request or import set one"),
                    text("reason").doc("At most 255 characters; or motivo, revocation_reason"),
                    text("motivo").doc("Portuguese name of reason"),
                    text("revocation_reason").doc("Another name of reason"),
                ])
                .errors(&[409])
                .entity("certificate"),
            post(format!("{base}/renewal/{{id}}"), "Set a certificate's automatic renewal")
                .fields([
                    boolean("auto_renew").doc("Only for certificates a cofre CA signed with a cofre key"),
                    integer("renewal_days").doc("Days before expiry a renewal is due: 1 to 365"),
                ])
                .entity("certificate"),
            post(format!("{base}/{import}"), "Import a certificate cofre did not sign")
                .fields([
                    secret("certificate").required().doc("PEM text, or base64 of a DER or PKCS#12 file"),
                    text("format").doc("PEM, DER or PKCS12; guessed when absent"),
                    secret("password").doc("The PKCS#12 file's or encrypted key's password"),
                    secret("private_key").doc("PEM private key, when the certificate comes without it"),
                    secret("key_password").doc("8 to 1024 characters; needed later to export the key"),
                    secret("password_revogation").doc("8 to 1024 characters; then needed to revoke"),
                ])
                .created()
                .errors(&[409])
                .entity("certificate"),
            post(format!("{base}/{scan}"), "Discover certificates served at host:port targets")
                .fields([
                    list("targets").doc("1 to 64 host:port entries (or targets[]); IPv6 in brackets"),
                    list("targets[]").doc("Same as targets"),
                    integer("timeout").doc("Seconds per target: 1 to 30, default 5"),
                ])
                .entities("results")
                .describe("Each target gets a result; an unreachable one is found: false, not an error."),
            get(format!("{base}/ca/{{key}}"), "Show a certificate authority and its chain")
                .input(Input::Nothing)
                .entity("certificate"),
            get(format!("{base}/ca/{{key}}/crl"), "Issue the authority's current CRL")
                .input(Input::Nothing)
                .entity("certificate"),
        ]);
    }
    for (base, profile, publish, listing) in PUBLISHING_PATHS {
        ops.extend([
            post(format!("{base}/{profile}/{{kind}}"), "Register or replace a publishing profile")
                .fields([
                    text("nome_perfil").doc("Required (or name): the profile's name, at most 128 characters"),
                    text("name").doc("English name of nome_perfil"),
                    text("codigo_credencial").doc("Required (or credential): id of a PAM credential you may use"),
                    text("credential").doc("English name of codigo_credencial"),
                    list("dispositivos").doc("1 to 100 device ids or hostnames (or dispositivos[])"),
                    list("dispositivos[]").doc("Same as dispositivos"),
                    text("key_db_path").doc("WAS only, and required there"),
                    secret("key_db_password").doc("WAS only, and required there"),
                    text("label").doc("WAS only, and required there"),
                ])
                .created()
                .errors(&[200])
                .entity("profile")
                .describe(UPSERT),
            post(format!("{base}/{publish}"), "Publish a certificate with a profile")
                .fields([
                    text("codigo_certificado").doc("Required (or certificate): the certificate's id"),
                    text("certificate").doc("English name of codigo_certificado"),
                    text("codigo_perfil_publicacao").doc("Required (or profile): the profile's id"),
                    text("profile").doc("English name of codigo_perfil_publicacao"),
                    text("motivo").doc("Required (or reason): at most 255 characters"),
                    text("reason").doc("English name of motivo"),
                    list("dispositivos").doc("A subset of the profile's devices; all when absent"),
                    list("dispositivos[]").doc("Same as dispositivos"),
                ])
                .entities("publications")
                .describe("Each device gets a publication record; a failed one carries its error."),
            get(format!("{base}/{publish}/{listing}/{{id}}"), "List a certificate's publications")
                .input(Input::Nothing)
                .entities("publications"),
        ]);
    }
    Family {
        tag: "Certificates",
        description: "Certificate Manager: requests, signing, issued certificates, authorities and publication.",
        ops,
    }
}
