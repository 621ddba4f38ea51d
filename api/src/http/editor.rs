//! The Rédacteur editor page (`/editor`, `/editor/{id}`) and its scripts
//! (`/assets/editor/{file}`): Editor.js and its tools as npm installed them under
//! `web/editor/node_modules` (pinned by `web/editor/package-lock.json`, installed by
//! `scripts/setup.sh`), and OpsFlux's own script and styles, compiled in. The page talks
//! to the document API with the session's CSRF token; nothing is built or bundled.

use std::path::PathBuf;

use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::error::ApiError;
use super::layout::escape;
use super::{AppState, Caller};

/// OpsFlux's own files, compiled in.
const EDITOR_SCRIPT: &str = include_str!("../../../web/editor/opsflux-editor.js");
const EDITOR_STYLES: &str = include_str!("../../../web/editor/opsflux-editor.css");

/// The npm files served, by the name the page asks for: nothing else under
/// `node_modules` is reachable.
const VENDOR: &[(&str, &str)] = &[
    ("editorjs.js", "@editorjs/editorjs/dist/editorjs.umd.js"),
    ("header.js", "@editorjs/header/dist/header.umd.js"),
    ("list.js", "@editorjs/list/dist/editorjs-list.umd.js"),
    ("checklist.js", "@editorjs/checklist/dist/checklist.umd.js"),
    ("quote.js", "@editorjs/quote/dist/quote.umd.js"),
    ("code.js", "@editorjs/code/dist/code.umd.js"),
    ("table.js", "@editorjs/table/dist/table.umd.js"),
    ("delimiter.js", "@editorjs/delimiter/dist/delimiter.umd.js"),
    ("image.js", "@editorjs/image/dist/image.umd.js"),
];

/// Where npm installed the editor's packages: `OPSFLUX_WEB_DIR` (a directory holding
/// `editor/node_modules`), or the `web/` directory of the source tree this binary was
/// built from.
fn node_modules() -> PathBuf {
    let web = std::env::var_os("OPSFLUX_WEB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../web")));
    web.join("editor").join("node_modules")
}

/// A weak validator of `bytes` (weak: the gzip layer may change the bytes sent).
fn tag_of(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(bytes);
    format!("W/\"{}\"", digest.iter().take(12).map(|byte| format!("{byte:02x}")).collect::<String>())
}

/// The file, or `304 Not Modified` when the browser's copy carries the same tag.
fn served(request: &HeaderMap, content_type: &'static str, cache: &'static str, bytes: Vec<u8>) -> Response {
    let tag = tag_of(&bytes);
    let headers = [(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, cache)];
    let known = request.get_all(header::IF_NONE_MATCH).iter().filter_map(|value| value.to_str().ok());
    if known.flat_map(|value| value.split(',')).any(|candidate| candidate.trim() == tag) {
        return (StatusCode::NOT_MODIFIED, headers, [(header::ETAG, tag)]).into_response();
    }
    (headers, [(header::ETAG, tag)], bytes).into_response()
}

/// `GET /assets/editor/{file}`: one of the editor's scripts or its styles, with a
/// validator so a browser's copy is confirmed rather than sent again.
pub(crate) async fn asset(Path(file): Path<String>, request: HeaderMap) -> Response {
    let javascript = "text/javascript; charset=utf-8";
    // OpsFlux's own files change with the server: checked again at every load.
    let revalidated = "no-cache";
    match file.as_str() {
        "opsflux-editor.js" => return served(&request, javascript, revalidated, EDITOR_SCRIPT.as_bytes().to_vec()),
        "opsflux-editor.css" => {
            return served(&request, "text/css; charset=utf-8", revalidated, EDITOR_STYLES.as_bytes().to_vec());
        }
        _ => {}
    }
    let Some((_, relative)) = VENDOR.iter().find(|(name, _)| *name == file) else {
        return ApiError::not_found(format!("no editor file `{file}`")).into_response();
    };
    let path = node_modules().join(relative);
    match tokio::fs::read(&path).await {
        Ok(bytes) => served(&request, javascript, "public, max-age=3600", bytes),
        Err(error) => {
            tracing::error!(path = %path.display(), %error, "an editor script is missing");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Editor not installed",
                "the editor's scripts are not installed on this server: run scripts/setup.sh (npm ci in web/editor)",
            )
            .into_response()
        }
    }
}

/// `GET /editor`: a new document.
pub(crate) async fn new_page(State(state): State<AppState>, Extension(caller): Extension<Caller>) -> Html<String> {
    Html(page(&state, &caller, None))
}

/// `GET /editor/{id}`: a stored document or template, as the caller may see it.
pub(crate) async fn document_page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Html<String>, ApiError> {
    let id = super::schedules::parse_id(&id)?;
    let summary = super::stored_documents::visible(&state, &caller, id).await?;
    Ok(Html(page(&state, &caller, Some(&summary))))
}

fn page(state: &AppState, caller: &Caller, summary: Option<&crate::document_store::Summary>) -> String {
    let sites = state.engine.pin().sites_in(&caller.scope);
    let mut site_options = String::from("<option value=\"\">(par défaut)</option>");
    for site in &sites {
        site_options.push_str(&format!("<option value=\"{0}\">{0}</option>", escape(site)));
    }
    let csrf = caller.session.as_ref().map(|session| session.csrf_token.as_str()).unwrap_or_default();
    let (id, version, status, title) = match summary {
        Some(summary) => (
            summary.id.to_string(),
            summary.version.to_string(),
            summary.status.as_str().to_owned(),
            summary.title.clone(),
        ),
        None => (String::new(), String::new(), "draft".to_owned(), "Nouveau document".to_owned()),
    };
    let scripts: String =
        VENDOR.iter().map(|(name, _)| format!("<script src=\"/assets/editor/{name}\" defer></script>")).collect();
    let body = format!(
        r#"<meta name="csrf" content="{csrf}"><link rel="stylesheet" href="/assets/editor/opsflux-editor.css">
<div id="editor-page" data-document="{id}" data-version="{version}" data-status="{status}">
<div class="ofx-bar">
  <button type="button" id="save">Enregistrer</button>
  <input id="comment" placeholder="Commentaire de version" aria-label="Commentaire de version">
  <span id="document-status" class="ofx-status"></span>
  <button type="button" id="review-submit">Soumettre</button>
  <button type="button" id="review-approve">Approuver</button>
  <button type="button" id="review-publish">Publier</button>
  <button type="button" id="review-send_back">Renvoyer en brouillon</button>
  <button type="button" id="pdf">Aperçu PDF</button>
  <a id="pdf-link" hidden target="_blank" download="document.pdf">Ouvrir le PDF</a>
  <span id="editor-status" role="status" aria-live="polite"></span>
</div>
<div class="ofx-columns">
  <aside class="ofx-side">
    <form id="settings" onsubmit="return false">
      <h2>Réglages</h2>
      <label>Titre <input name="title"></label>
      <label>Format <select name="size"><option>A4</option><option>Letter</option></select></label>
      <label>Orientation <select name="orientation"><option value="portrait">Portrait</option><option value="landscape">Paysage</option></select></label>
      <label><input type="checkbox" name="cover"> Page de garde</label>
      <label><input type="checkbox" name="toc"> Sommaire</label>
      <label>En-tête <input name="header" list="variables"></label>
      <label>Pied de page <input name="footer" list="variables"></label>
      <label>Logo <input name="logo" placeholder="logo.svg"></label>
      <label>Langue <select name="locale"><option value="">(du lecteur)</option><option>fr-FR</option><option>en-GB</option><option>en-US</option></select></label>
      <label><input type="checkbox" name="site_parameter"> Paramètre « site »</label>
      <label><input type="checkbox" name="period_parameter"> Paramètre « période »</label>
      <label>Période par <select name="period_kind"><option value="week">semaine</option><option value="month">mois</option></select></label>
      <datalist id="variables"></datalist>
    </form>
    <label>Site du document <select id="document-site">{site_options}</select></label>
    <label>Site de l'aperçu <select id="preview-site">{site_options}</select></label>
    <label>Période de l'aperçu <input id="preview-period" placeholder="2026-03 ou 2026-W46"></label>
  </aside>
  <div id="editor" class="ofx-editor"></div>
  <iframe id="preview" class="ofx-preview-pane" title="Aperçu" sandbox></iframe>
</div>
<div id="variable-menu" class="ofx-menu" hidden></div>
</div>
{scripts}<script src="/assets/editor/opsflux-editor.js" defer></script>"#
    );
    super::layout::page("/editor", &format!("Éditeur — {title}"), "", &body)
}
