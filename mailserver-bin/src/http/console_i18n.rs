//! The console's languages: English, and French (the language of many of the hosts it
//! replaces). Texts are written in English in the templates and the code and looked up here;
//! a text without a translation shows in English (a test checks that every text the templates
//! use has one). The language is the `mw_lang` cookie's (set by the switch on every page),
//! else the first of `Accept-Language` we have, else English.

use axum::http::{HeaderMap, header};

/// A language of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Fr,
}

/// The cookie that keeps the language chosen with the switch.
pub const LANG_COOKIE: &str = "mw_lang";

impl Lang {
    /// The language a request asks for.
    pub fn of(headers: &HeaderMap, chosen: Option<&str>) -> Lang {
        if let Some(lang) = chosen.and_then(Lang::named) {
            return lang;
        }
        let accepted = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mut ranked: Vec<(f32, &str)> = accepted
            .split(',')
            .filter_map(|part| {
                let mut fields = part.split(';');
                let tag = fields.next()?.trim();
                let q = fields
                    .find_map(|f| f.trim().strip_prefix("q="))
                    .and_then(|q| q.parse().ok())
                    .unwrap_or(1.0);
                Some((q, tag))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        ranked
            .iter()
            .find_map(|(_, tag)| Lang::named(tag.split('-').next().unwrap_or("")))
            .unwrap_or(Lang::En)
    }

    /// The language of a tag (`fr`, `en`).
    pub fn named(tag: &str) -> Option<Lang> {
        match tag.trim().to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "fr" => Some(Lang::Fr),
            _ => None,
        }
    }

    /// Its tag, for `<html lang>`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }

    /// `text` in this language.
    pub fn t(self, text: &str) -> &str {
        match self {
            Lang::En => text,
            Lang::Fr => french(text).unwrap_or(text),
        }
    }

    /// `text` in this language with each `{}` replaced by the next of `args`.
    pub fn f(self, text: &str, args: &[&str]) -> String {
        let mut out = String::new();
        let mut args = args.iter();
        let mut parts = self.t(text).split("{}").peekable();
        while let Some(part) = parts.next() {
            out.push_str(part);
            if parts.peek().is_some() {
                out.push_str(args.next().copied().unwrap_or(""));
            }
        }
        out
    }
}

/// Every console text and its French.
const FRENCH: &[(&str, &str)] = &[
    ("Log out", "Se déconnecter"),
    ("Log in", "Connexion"),
    ("Mail address", "Adresse électronique"),
    ("Password", "Mot de passe"),
    ("Language", "Langue"),
    ("Domains", "Domaines"),
    ("The domains you manage", "Les domaines que vous gérez"),
    ("Domain", "Domaine"),
    ("Mailboxes", "Boîtes aux lettres"),
    ("Quota", "Quota"),
    ("Active", "Active"),
    ("yes", "oui"),
    ("no", "non"),
    ("none", "aucun"),
    ("Outbound queue", "File d'attente sortante"),
    ("Banned addresses", "Adresses bannies"),
    ("Log of changes", "Journal des modifications"),
    ("Last changes", "Dernières modifications"),
    (
        "No change is recorded.",
        "Aucune modification n'est enregistrée.",
    ),
    (
        "Changes made in the console and through the API, newest first",
        "Modifications faites dans la console et par l'API, les plus récentes d'abord",
    ),
    ("When (UTC)", "Quand (UTC)"),
    ("Who", "Qui"),
    ("Action", "Action"),
    ("Details", "Détails"),
    (
        "The log of changes could not be read.",
        "Le journal des modifications n'a pas pu être lu.",
    ),
    ("Add a domain", "Ajouter un domaine"),
    ("Domain name", "Nom de domaine"),
    ("Add domain", "Ajouter le domaine"),
    (
        "DNS records and their check",
        "Enregistrements DNS et leur vérification",
    ),
    ("Mailboxes of", "Boîtes aux lettres de"),
    ("Address", "Adresse"),
    ("Enable or disable", "Activer ou désactiver"),
    ("New password", "Nouveau mot de passe"),
    ("Disable", "Désactiver"),
    ("Enable", "Activer"),
    ("New password for", "Nouveau mot de passe pour"),
    ("Set", "Définir"),
    ("Add a mailbox", "Ajouter une boîte aux lettres"),
    ("Add mailbox", "Ajouter la boîte"),
    ("Aliases and forwardings", "Alias et redirections"),
    ("Aliases of", "Alias de"),
    ("Goes to", "Redirige vers"),
    ("Remove", "Supprimer"),
    (
        "Address (empty: every address of the domain without a mailbox)",
        "Adresse (vide : toute adresse du domaine sans boîte aux lettres)",
    ),
    (
        "Forward to (addresses, separated by commas)",
        "Rediriger vers (adresses séparées par des virgules)",
    ),
    ("Add alias", "Ajouter l'alias"),
    ("Back to the domains", "Retour aux domaines"),
    ("Your mailbox", "Votre boîte aux lettres"),
    ("Your account", "Votre compte"),
    ("Change your password", "Changer de mot de passe"),
    ("Current password", "Mot de passe actuel"),
    (
        "New password (at least 8 characters)",
        "Nouveau mot de passe (8 caractères au moins)",
    ),
    ("New password again", "Nouveau mot de passe, à nouveau"),
    ("Change password", "Changer le mot de passe"),
    ("Queue", "File d'attente"),
    (
        "Messages waiting to be delivered",
        "Messages en attente de distribution",
    ),
    ("The queue is empty.", "La file d'attente est vide."),
    ("Actions", "Actions"),
    ("retry", "réessayer"),
    ("hold", "retenir"),
    ("release", "libérer"),
    ("remove", "supprimer"),
    (
        "Try every message now",
        "Réessayer tous les messages maintenant",
    ),
    ("Bans", "Bannissements"),
    ("No address is banned.", "Aucune adresse n'est bannie."),
    (
        "Addresses refused on every listener, for password guessing or by an admin",
        "Adresses refusées partout, pour essais de mots de passe ou par un administrateur",
    ),
    ("Network", "Réseau"),
    ("Minutes left", "Minutes restantes"),
    ("Reason", "Raison"),
    ("Lift", "Lever"),
    ("DNS of {}", "DNS de {}"),
    (
        "What the domain publishes now",
        "Ce que le domaine publie maintenant",
    ),
    (
        "MX, SPF, DKIM, DMARC and the rest as ours.",
        "MX, SPF, DKIM, DMARC et le reste comme les nôtres.",
    ),
    ("Records to publish", "Enregistrements à publier"),
    (
        "In the domain's zone, as a zone file writes them (the DKIM keys were made if missing):",
        "Dans la zone du domaine, au format d'un fichier de zone (les clés DKIM ont été créées si elles manquaient) :",
    ),
    ("Back to", "Retour à"),
    (
        "This form has expired: open the page again.",
        "Ce formulaire a expiré : rouvrez la page.",
    ),
    (
        "Wrong address or password.",
        "Adresse ou mot de passe incorrect.",
    ),
    (
        "The accounts database did not answer.",
        "La base des comptes n'a pas répondu.",
    ),
    (
        "Only a global administrator adds domains.",
        "Seul un administrateur global ajoute des domaines.",
    ),
    ("Domain {} added.", "Domaine {} ajouté."),
    (
        "The two new passwords differ.",
        "Les deux nouveaux mots de passe diffèrent.",
    ),
    (
        "The new password needs at least 8 characters.",
        "Le nouveau mot de passe doit avoir 8 caractères au moins.",
    ),
    (
        "The password needs at least 8 characters.",
        "Le mot de passe doit avoir 8 caractères au moins.",
    ),
    (
        "The current password is wrong.",
        "Le mot de passe actuel est incorrect.",
    ),
    (
        "Your password is changed.",
        "Votre mot de passe est changé.",
    ),
    (
        "The password was not changed: {}",
        "Le mot de passe n'a pas été changé : {}",
    ),
    (
        "The password could not be hashed.",
        "Le mot de passe n'a pas pu être chiffré.",
    ),
    (
        "No such domain among yours.",
        "Ce domaine n'est pas parmi les vôtres.",
    ),
    (
        "The records could not be made: {}",
        "Les enregistrements n'ont pas pu être faits : {}",
    ),
    (
        "No DNS resolver to check with: {}",
        "Aucun résolveur DNS pour vérifier : {}",
    ),
    ("Mailbox {} added.", "Boîte aux lettres {} ajoutée."),
    ("Mailbox {} enabled.", "Boîte aux lettres {} activée."),
    ("Mailbox {} disabled.", "Boîte aux lettres {} désactivée."),
    (
        "New password set for {}.",
        "Nouveau mot de passe défini pour {}.",
    ),
    (
        "{} is not an address of {}.",
        "{} n'est pas une adresse de {}.",
    ),
    (
        "Give at least one address to forward to.",
        "Donnez au moins une adresse vers laquelle rediriger.",
    ),
    ("Alias {} → {} added.", "Alias {} → {} ajouté."),
    ("Alias {} removed.", "Alias {} supprimé."),
    ("{} is not an alias of {}.", "{} n'est pas un alias de {}."),
    (
        "The queue is for global administrators.",
        "La file d'attente est réservée aux administrateurs globaux.",
    ),
    (
        "The queue could not be read: {}",
        "La file d'attente n'a pas pu être lue : {}",
    ),
    ("{} will be tried now.", "{} va être réessayé maintenant."),
    ("{} is on hold.", "{} est retenu."),
    ("{} released.", "{} libéré."),
    ("{} removed.", "{} supprimé."),
    (
        "{} messages to be tried now.",
        "{} messages à réessayer maintenant.",
    ),
    (
        "There is no queue action {}.",
        "Il n'y a pas d'action de file {}.",
    ),
    ("The queue action failed.", "L'action sur la file a échoué."),
    (
        "The bans are for global administrators.",
        "Les bannissements sont réservés aux administrateurs globaux.",
    ),
    (
        "The ban list could not be read.",
        "La liste des bannissements n'a pas pu être lue.",
    ),
    ("{} is not a network.", "{} n'est pas un réseau."),
    (
        "The ban on {} is lifted.",
        "Le bannissement de {} est levé.",
    ),
    ("{} is not banned.", "{} n'est pas banni."),
    (
        "The ban list could not be changed.",
        "La liste des bannissements n'a pas pu être changée.",
    ),
    ("Usage unknown.", "Usage inconnu."),
    ("Forwarding", "Redirection"),
    ("Quota for", "Quota de"),
    (
        "Quota of all the domain's mailboxes together (500M, 2G; none)",
        "Quota de toutes les boîtes du domaine ensemble (500M, 2G ; none)",
    ),
    (
        "{} is not a size: use e.g. 500M, 2G or none.",
        "{} n'est pas une taille : par exemple 500M, 2G ou none.",
    ),
    ("Quota of {} set to {}.", "Quota de {} fixé à {}."),
    (
        "Only a global administrator sets a domain's quota.",
        "Seul un administrateur global fixe le quota d'un domaine.",
    ),
    (
        "Forward my mail to (addresses, separated by commas; empty: no forwarding)",
        "Rediriger mon courrier vers (adresses séparées par des virgules ; vide : aucune redirection)",
    ),
    (
        "Keep a copy in my mailbox",
        "Garder une copie dans ma boîte",
    ),
    ("Save forwarding", "Enregistrer la redirection"),
    ("Your mail goes to {}.", "Votre courrier va à {}."),
    (
        "Your mail is not forwarded.",
        "Votre courrier n'est pas redirigé.",
    ),
    (
        "The forwarding was not changed: {}",
        "La redirection n'a pas été changée : {}",
    ),
    (
        "{} messages, {} (no quota).",
        "{} messages, {} (pas de quota).",
    ),
    (
        "{} messages, {} of {} ({}%).",
        "{} messages, {} sur {} ({} %).",
    ),
    ("Out-of-office reply", "Réponse d'absence"),
    (
        "Answer the mail I receive",
        "Répondre au courrier que je reçois",
    ),
    ("Subject of the reply", "Objet de la réponse"),
    ("Text of the reply", "Texte de la réponse"),
    ("First day (optional)", "Premier jour (facultatif)"),
    ("Last day (optional)", "Dernier jour (facultatif)"),
    (
        "Days before the same sender is answered again",
        "Jours avant de répondre de nouveau au même expéditeur",
    ),
    ("Save the reply", "Enregistrer la réponse"),
    ("Spam", "Pourriel"),
    (
        "Mail goes to Junk from this spam score on (lower catches more; empty: the server's",
        "Le courrier va dans Indésirables à partir de ce score de pourriel (plus bas en attrape plus ; vide : celui du serveur,",
    ),
    ("Save the threshold", "Enregistrer le seuil"),
    ("App passwords", "Mots de passe d'application"),
    (
        "An app password logs one mail program in (reading, sending, filters) instead of your own password, and can be revoked alone. It does not open this console.",
        "Un mot de passe d'application connecte un logiciel de messagerie (lecture, envoi, filtres) à la place de votre mot de passe, et se révoque seul. Il n'ouvre pas cette console.",
    ),
    (
        "The new app password:",
        "Le nouveau mot de passe d'application :",
    ),
    (
        "You have no app passwords.",
        "Vous n'avez aucun mot de passe d'application.",
    ),
    ("Your app passwords", "Vos mots de passe d'application"),
    ("Name", "Nom"),
    ("Revoke", "Révoquer"),
    (
        "Program or device it is for",
        "Logiciel ou appareil auquel il est destiné",
    ),
    ("Your current password", "Votre mot de passe actuel"),
    (
        "Make an app password",
        "Créer un mot de passe d'application",
    ),
    (
        "App password \"{}\" made: copy it now, it is not shown again.",
        "Mot de passe d'application « {} » créé : copiez-le maintenant, il ne sera plus affiché.",
    ),
    (
        "No app password was made: {}",
        "Aucun mot de passe d'application n'a été créé : {}",
    ),
    (
        "App password \"{}\" revoked.",
        "Mot de passe d'application « {} » révoqué.",
    ),
    (
        "The app password was not revoked: {}",
        "Le mot de passe d'application n'a pas été révoqué : {}",
    ),
    (
        "Your out-of-office reply is on.",
        "Votre réponse d'absence est activée.",
    ),
    (
        "Your out-of-office reply is off.",
        "Votre réponse d'absence est désactivée.",
    ),
    (
        "The reply was not saved: {}",
        "La réponse n'a pas été enregistrée : {}",
    ),
    (
        "The reply could not be saved.",
        "La réponse n'a pas pu être enregistrée.",
    ),
    (
        "Your mailbox was not found.",
        "Votre boîte aux lettres est introuvable.",
    ),
    (
        "The reply needs a subject and a text.",
        "La réponse a besoin d'un objet et d'un texte.",
    ),
    (
        "The subject may have 200 characters and the text 8000.",
        "L'objet peut avoir 200 caractères et le texte 8000.",
    ),
    (
        "A sender is answered again after 1 to 30 days.",
        "Un expéditeur reçoit de nouveau la réponse après 1 à 30 jours.",
    ),
    (
        "Dates are written 2026-12-24.",
        "Les dates s'écrivent 2026-12-24.",
    ),
    (
        "The last day comes before the first.",
        "Le dernier jour précède le premier.",
    ),
    (
        "The reply is too long for a Sieve script here.",
        "La réponse est trop longue pour un script Sieve ici.",
    ),
    (
        "a score is a number, such as 3.5",
        "un score est un nombre, comme 3.5",
    ),
    (
        "Your spam threshold is saved.",
        "Votre seuil de pourriel est enregistré.",
    ),
    (
        "The spam threshold was not changed: {}",
        "Le seuil de pourriel n'a pas été changé : {}",
    ),
    ("POP3 deletes", "Suppressions POP3"),
    ("POP3 policy of", "Politique POP3 de"),
    ("default", "par défaut"),
    ("expunge", "effacer"),
    ("keep", "garder"),
    ("seen", "marquer lu"),
    ("Limits", "Limites"),
    (
        "Mailboxes it may have (0: no limit, -1: none)",
        "Boîtes aux lettres permises (0 : sans limite, -1 : aucune)",
    ),
    (
        "Aliases it may have (0: no limit, -1: none)",
        "Alias permis (0 : sans limite, -1 : aucun)",
    ),
    (
        "Largest quota of one mailbox (500M, 2G; none)",
        "Quota maximal d'une boîte (500M, 2G ; none)",
    ),
    ("Set the limits", "Fixer les limites"),
    ("Alias domains", "Domaines alias"),
    (
        "No other domain is an alias of this one.",
        "Aucun autre domaine n'est un alias de celui-ci.",
    ),
    (
        "Domain whose mail comes here (user@it is user@this domain)",
        "Domaine dont le courrier vient ici (user@lui est user@ce domaine)",
    ),
    ("Add alias domain", "Ajouter le domaine alias"),
    (
        "{} is not a count: use e.g. 50, none or -1.",
        "{} n'est pas un nombre : par exemple 50, none ou -1.",
    ),
    (
        "Only a global administrator sets a domain's limits.",
        "Seul un administrateur global fixe les limites d'un domaine.",
    ),
    (
        "Limits of {}: {} mailboxes, {} aliases, {} per mailbox.",
        "Limites de {} : {} boîtes, {} alias, {} par boîte.",
    ),
    (
        "{} is now an alias domain of {}.",
        "{} est maintenant un domaine alias de {}.",
    ),
    (
        "Only a global administrator adds alias domains.",
        "Seul un administrateur global ajoute des domaines alias.",
    ),
    (
        "Only a global administrator removes alias domains.",
        "Seul un administrateur global retire des domaines alias.",
    ),
    (
        "{} is not an alias domain of {}.",
        "{} n'est pas un domaine alias de {}.",
    ),
    ("Alias domain {} removed.", "Domaine alias {} retiré."),
    (
        "{} is not a POP3 policy.",
        "{} n'est pas une politique POP3.",
    ),
    ("POP3 policy of {} set to {}.", "Politique POP3 de {} : {}."),
    ("Used", "Utilisé"),
    ("The server", "Le serveur"),
    ("messages", "messages"),
    ("the oldest waiting for", "le plus ancien attend depuis"),
    (
        "Turned away since the start:",
        "Refusés depuis le démarrage :",
    ),
    ("messages refused", "messages refusés"),
    (
        "connections from banned addresses",
        "connexions d'adresses bannies",
    ),
    (
        "connections over the limits",
        "connexions au-delà des limites",
    ),
    ("failed logins", "connexions échouées"),
    ("API tokens", "Jetons d'API"),
    (
        "A token lets a script use the JSON API (described at /api/openapi.json) as you, within your domains: send it in the Authorization header as Bearer TOKEN.",
        "Un jeton permet à un script d'utiliser l'API JSON (décrite à /api/openapi.json) en votre nom, dans vos domaines : envoyez-le dans l'en-tête Authorization sous la forme Bearer JETON.",
    ),
    ("The new token:", "Le nouveau jeton :"),
    ("There are no tokens.", "Il n'y a aucun jeton."),
    ("Tokens", "Jetons"),
    ("Id", "Identifiant"),
    ("Acts for", "Agit pour"),
    ("May write", "Peut écrire"),
    ("What it is for", "À quoi il sert"),
    (
        "It may change things, not only read",
        "Il peut modifier, pas seulement lire",
    ),
    ("Make a token", "Créer un jeton"),
    (
        "A token needs a name of 1 to 100 characters.",
        "Un jeton a besoin d'un nom de 1 à 100 caractères.",
    ),
    (
        "Token \"{}\" made: copy it now, it is not shown again.",
        "Jeton « {} » créé : copiez-le maintenant, il ne sera plus affiché.",
    ),
    ("No token was made: {}", "Aucun jeton n'a été créé : {}"),
    (
        "There is no token {} of yours.",
        "Vous n'avez pas de jeton {}.",
    ),
    ("Token {} revoked.", "Jeton {} révoqué."),
    (
        "The subject is one line of text.",
        "L'objet tient sur une ligne.",
    ),
];

fn french(text: &str) -> Option<&'static str> {
    FRENCH.iter().find(|(en, _)| *en == text).map(|(_, fr)| *fr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_chosen_and_texts_translated() {
        let mut headers = HeaderMap::new();
        assert_eq!(Lang::of(&headers, None), Lang::En);
        headers.insert(
            header::ACCEPT_LANGUAGE,
            "de-DE;q=0.9, fr-CH, en;q=0.8".parse().unwrap(),
        );
        assert_eq!(Lang::of(&headers, None), Lang::Fr);
        assert_eq!(Lang::of(&headers, Some("en")), Lang::En);
        assert_eq!(
            Lang::Fr.f("Domain {} added.", &["example.org"]),
            "Domaine example.org ajouté."
        );
        assert_eq!(
            Lang::En.f("{} is not an alias of {}.", &["a", "b"]),
            "a is not an alias of b."
        );
    }

    /// Every text the templates look up has its French.
    #[test]
    fn every_template_text_is_translated() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates/console");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            for part in text.split("t(\"").skip(1) {
                let key = part.split("\")").next().unwrap();
                assert!(
                    french(key).is_some(),
                    "{}: {key:?} has no French",
                    path.display()
                );
            }
        }
    }
}
