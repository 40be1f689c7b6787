"""French names, places and sentences the demo data is made of (kept apart from the generator's logic)."""

from __future__ import annotations

FIRST_NAMES = (
    "Camille", "Léa", "Manon", "Chloé", "Inès", "Sarah", "Emma", "Julie", "Clara", "Lucie", "Anaïs", "Mathilde",
    "Pauline", "Élodie", "Nadia", "Sophie", "Aurélie", "Margaux", "Céline", "Amandine", "Yasmine", "Océane",
    "Hélène", "Justine", "Fatou", "Lina", "Zoé", "Marion", "Nathalie", "Sandrine",
    "Lucas", "Hugo", "Thomas", "Nicolas", "Julien", "Maxime", "Antoine", "Karim", "Mehdi", "Romain", "Théo",
    "Baptiste", "Alexandre", "Guillaume", "Kevin", "Sébastien", "Mathieu", "Yanis", "Florian", "Jérôme",
    "François", "Olivier", "Cédric", "Damien", "Rachid", "Benoît", "Loïc", "Quentin", "Adrien", "Samir",
)  # fmt: skip

LAST_NAMES = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
    "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier",
    "Morel", "Girard", "André", "Lefebvre", "Mercier", "Dupont", "Lambert", "Bonnet", "François", "Martinez",
    "Legrand", "Garnier", "Faure", "Rousseau", "Blanc", "Guérin", "Muller", "Henry", "Roussel", "Nicolas",
    "Perrin", "Morin", "Mathieu", "Clément", "Gauthier", "Dumont", "Lopez", "Fontaine", "Chevalier", "Robin",
    "Masson", "Sanchez", "Gérard", "Nguyen", "Boyer", "Denis", "Lemaire", "Duval", "Joly", "Gaillard",
    "Benali", "Haddad", "Diallo", "Traoré", "Le Gall", "Le Goff", "Kerbrat", "Marchand", "Brunet", "Barbier",
)  # fmt: skip

# Shops visited by mystery shoppers, and the call centres whose calls are sampled.
SHOPS = (
    "Lyon Part-Dieu", "Paris Opéra", "Marseille Vieux-Port", "Lille Grand Place", "Bordeaux Sainte-Catherine",
    "Nantes Commerce", "Toulouse Capitole", "Strasbourg Kléber", "Rennes République", "Montpellier Comédie",
)  # fmt: skip
SHOP_TEAMS = ("Accueil", "Conseil", "Caisse et retrait")
CALL_CENTRES = ("Plateau Nantes", "Plateau Lille", "Plateau Lyon")
CALL_TEAMS = ("Service clients", "Réclamations", "Ventes à distance")

SHOPPERS = (("Claire Dubreuil", "shopper1"), ("Malik Benoît", "shopper2"), ("Sylvie Caron", "shopper3"),
            ("Hervé Lacombe", "shopper4"), ("Agathe Renaud", "shopper5"), ("Paul Vasseur", "shopper6"),
            ("Noémie Carpentier", "shopper7"), ("Jean Rolland", "shopper8"))  # fmt: skip
QA_LEADS = (("Isabelle Marchetti", "lead1"), ("Franck Olivier", "lead2"), ("Sonia Belkacem", "lead3"),
            ("Thierry Besson", "lead4"))  # fmt: skip

# Criteria that only make sense in a complaint: mostly "not applicable" otherwise.
COMPLAINT_ONLY = frozenset(
    {"apologised", "goodwill_gesture", "stayed_calm", "calm_from_start", "no_policy_shield", "took_ownership"}
)

# Remarks on a missed criterion, per behaviour, for visits and for calls; and a few for good moments.
MISSED_VISIT = {
    "courtesy": (
        "Pas de bonjour à mon arrivée : l'employé rangeait les rayons et ne m'a pas vu.",
        "Accueil correct mais sans sourire ni regard, très mécanique.",
        "Le vouvoiement n'a pas été tenu, tutoiement dès la deuxième phrase.",
        "Aucun remerciement au moment de partir.",
    ),
    "listening": (
        "M'a coupé la parole à deux reprises avant que j'aie fini d'expliquer.",
        "N'a posé aucune question pour comprendre mon besoin réel.",
        "Regardait son écran pendant que je parlais.",
        "N'a pas reformulé ma demande ; j'ai dû la répéter.",
    ),
    "empathy": (
        "Aucune excuse alors que la commande avait deux semaines de retard.",
        "Réponse « c'est la procédure » sans chercher plus loin.",
        "Ton impatient quand j'ai hésité entre deux modèles.",
        "N'a pas reconnu ma frustration, est passé directement à la solution.",
    ),
    "solution": (
        "Aucun délai annoncé pour le remboursement.",
        "Information inexacte sur la garantie, corrigée ensuite par une collègue.",
        "On m'a demandé de revenir plus tard au lieu de prendre mes coordonnées.",
        "Pas de récapitulatif à la fin, je ne savais pas ce qui allait se passer.",
    ),
}
MISSED_CALL = {
    "courtesy": (
        "Décroché après de longues sonneries, sans présentation.",
        "Pas de prénom ni de nom de service au décroché.",
        "Ton sec dès le début de l'appel.",
        "Pas de remerciement avant de raccrocher.",
    ),
    "listening": (
        "A interrompu le client pendant qu'il expliquait son problème.",
        "Aucune reformulation : le client a dû répéter son numéro de commande.",
        "Longs silences, aucune marque d'écoute.",
        "Questions fermées uniquement, le vrai motif n'a pas été cherché.",
    ),
    "empathy": (
        "Le client était agacé ; aucune phrase pour reconnaître son agacement.",
        "Pas d'excuse pour la coupure de service.",
        "Réponse très scriptée, peu naturelle.",
        "« Ce n'est pas mon service » sans proposer de transfert.",
    ),
    "solution": (
        "Mise en attente de deux minutes sans prévenir.",
        "Aucun délai de traitement annoncé.",
        "Rappel promis pour 15 h, non effectué.",
        "Pas de numéro de dossier donné au client.",
    ),
}
PRAISED = (
    "Très bon accueil, chaleureux et personnalisé.",
    "A parfaitement reformulé ma demande avant de proposer une solution.",
    "S'est excusée sincèrement et a proposé un geste commercial sans que je le demande.",
    "Conclusion exemplaire : récapitulatif, délai et carte de visite.",
)

SITUATION = {
    "enquiry": (
        "Je suis venu me renseigner sur les forfaits et les délais de livraison.",
        "Demande d'information sur un produit vu sur le site internet.",
        "Question sur les conditions de retour d'un article.",
    ),
    "complaint": (
        "Réclamation pour une commande livrée incomplète.",
        "Réclamation : appareil en panne une semaine après l'achat.",
        "Je me plaignais d'une erreur de facturation sur le dernier mois.",
    ),
    "purchase": (
        "Achat d'un cadeau avec besoin de conseil sur le choix.",
        "Achat d'un accessoire, avec une question sur la compatibilité.",
        "Je voulais acheter le modèle en promotion et comparer deux options.",
    ),
}
SITUATION_CALL = {
    "enquiry": (
        "Le client appelait pour connaître les délais de livraison de sa commande.",
        "Appel pour une question sur les options de son abonnement.",
        "Demande de renseignements sur les horaires et le retrait en magasin.",
    ),
    "complaint": (
        "Réclamation : colis annoncé livré mais jamais reçu.",
        "Le client contestait des frais de résiliation.",
        "Appel d'un client mécontent après une intervention annulée deux fois.",
    ),
    "purchase": (
        "Le client voulait souscrire l'offre vue dans la publicité.",
        "Commande par téléphone d'un produit indisponible sur le site.",
        "Appel pour ajouter une option à son contrat.",
    ),
}
BEHAVIOURS_GOOD = (
    "Accueil souriant, écoute attentive et solution claire ; l'employé a vérifié que tout me convenait.",
    "Très professionnel du début à la fin, m'a laissé m'exprimer puis a tout récapitulé.",
    "Employée patiente, questions pertinentes, a proposé une alternative quand le produit manquait.",
)
BEHAVIOURS_MIXED = (
    "Accueil correct mais l'écoute était rapide ; la solution est venue sans vraie reformulation.",
    "Sympathique mais peu d'initiative : j'ai dû relancer pour obtenir un délai.",
    "Bonne connaissance des produits, mais aucun mot sur le désagrément subi.",
)
BEHAVIOURS_POOR = (
    "Peu d'attention, réponses sèches ; je suis reparti sans solution.",
    "L'employé semblait pressé, m'a interrompu et n'a proposé aucune alternative.",
    "Attente longue sans explication, puis une réponse toute faite.",
)
MET = ("Oui, c'est le service que j'attends.", "Oui, dans l'ensemble.", "Oui, largement.")
NOT_MET = ("Non, pas vraiment.", "Non.", "En partie seulement.")
WHY_NOT = (
    "Il a manqué une vraie reformulation et un délai précis.",
    "Personne n'a reconnu la gêne occasionnée.",
    "L'accueil et la conclusion ont été expédiés.",
)
DIFFERENTLY = (
    "Saluer dès l'entrée et proposer son aide par une question ouverte.",
    "Reformuler la demande avant de répondre, puis annoncer un délai réaliste.",
    "S'excuser du désagrément et proposer une alternative.",
    "Rien de particulier, continuer ainsi.",
    "Conclure par un récapitulatif et vérifier que le client est satisfait.",
)
RETURN_REASONS = (
    "Commentaire manquant sur le critère critique, merci de compléter.",
    "Scénario incohérent avec les réponses sans objet, à vérifier.",
)
DISPUTE_REASONS = (
    "L'employé conteste : il était seul en magasin avec trois clients.",
    "L'employée indique que l'appel a été transféré par erreur.",
    "Contestation du critère d'accueil : le client a été salué depuis la caisse.",
)
