"""English article texts. Fixtures, not journalism: plausible, but written for the tests.

``[anchor](url)`` marks a link (see `pages.linked`).
"""

from __future__ import annotations

MAILRU_AMNESTY = (
    "The parent company of two popular Russian social network sites has asked the government "
    "to stop prosecuting social media users under anti-terrorism laws, and offer an amnesty "
    "for people already convicted.",
    "Mail.ru Group, which owns the Vkontakte and Odnoklassniki social media websites, called "
    "on the authorities last week to [pardon those convicted of extremism]"
    "(https://www.bbc.com/russian/news-45188838) for their posts. "
    "Russia’s Supreme Court estimates that criminal prosecutions for memes, likes and other "
    "social media content has more than tripled between 2012 and 2017.",
    "The internet giant petitioned the State Duma to introduce a bill pardoning internet users "
    "charged with hate speech or religious insensitivity, Interfax reported Wednesday.",
    "“The amnesty should apply to those convicted of extremism for social media activity "
    "[including likes, reposts and images] in cases where these actions haven’t led to "
    "socially dangerous consequences,” reads the petition.",
    "Mail.ru Group also asked the Supreme Court, the Justice Ministry and the chief of the "
    "Presidential Council for Civil Society and Human Rights to take steps to prevent future "
    "criminal prosecutions over Internet activity, according to the [Tjournal news website]"
    "(https://tjournal.ru/75077-mail-ru-group-obratilas-v-gosdumu-s-prosboy-vnesti-"
    "zakonoproekt-o-dekriminalizacii-repostov-i-amnistii-osuzhdennyh).",
    "Related article: [Vkontakte Announces Privacy Reforms After Spate of Extremism "
    "Prosecutions](https://www.themoscowtimes.com/2026/06/17/vkontakte-announces-privacy-"
    "reforms-after-spate-of-extremism-prosecutions)",
    "Vkontakte, which has been accused of cooperating with authorities in criminalizing online "
    "speech, promised [new privacy measures](https://themoscowtimes.com/news/vkontakte-"
    "announces-privacy-reforms-after-spate-of-extremism-prosecutions-62512) earlier this "
    "week. And on Tuesday, the social "
    "network pledged to release information on how many law enforcement requests it receives "
    "to share user data.",
    "Critics accused the company of [“hand-wringing”](https://t.me/PlushevChannel/2850) to "
    "prevent a mass exodus of users, and "
    "predicted no changes from Mail.Ru’s requests.",
    "Instead, they noted that authorities had several ways to access users activity on sites "
    "like Vkontakte through the [recently enacted anti-terror legislation]"
    "(https://themoscowtimes.com/news/russias-big-brother-law-enters-into-force-62066) that "
    "gave Russian "
    "telecom companies authority to store users’ communications.",
    "“Under the Yarovaya [anti-terrorism] law that entails long-term storage of traffic, "
    "officers will continue to search using keywords and images,” Pavel Chikov, the head of "
    "the Agora international human rights group, told the [Vedomosti daily]"
    "(https://www.vedomosti.ru/politics/articles/2018/08/14/778045-ne-otsenili-v-kontakte).",
)

VK_PRIVACY = (
    "Vkontakte, Russia’s most popular social network, has said it will let users hide their "
    "profiles from strangers and conceal their lists of friends, after a wave of criminal "
    "cases against people prosecuted for memes and reposts drew anger from its audience.",
    "The company announced on Monday that a closed-profile option would be rolled out to all "
    "users within weeks. Only approved friends will be able to see posts, photographs and "
    "saved pictures on a closed page, and the list of communities a user belongs to will "
    "also be hidden by default.",
    "Lawyers who defend people charged under Russia’s anti-extremism laws say that most cases "
    "begin when an investigator browses public pages looking for material that could be "
    "described as inciting hatred. A picture shared years ago, sometimes with a handful of "
    "views, has been enough to bring charges carrying a prison term.",
    "The network also said it would publish regular reports on the number of requests for "
    "user data it receives from law enforcement agencies, and on how many of them it "
    "satisfies. Vkontakte has long been criticized for handing over information quickly and "
    "without public scrutiny.",
    "“We see that our users are worried, and we understand why,” a company spokesperson said. "
    "“Privacy settings alone will not solve the problem, but they give people more control "
    "over who sees what they publish.”",
    "Digital rights activists welcomed the changes but warned that they came late. Many of "
    "the users now on trial published their posts when no such settings existed, and closed "
    "profiles do not stop the authorities from requesting data directly from the company.",
    "The number of people convicted for online statements in Russia has grown every year "
    "since 2012, according to the Sova research center, which tracks extremism cases. Most "
    "of those prosecutions concerned posts on Vkontakte, by far the country’s largest social "
    "network, with close to a hundred million monthly users.",
)

CASE_ARTICLE = (
    "The city council voted on Tuesday to restore the old river ferry, which stopped running "
    "in the winter of 2009 after the last boat failed an inspection and the company operating "
    "it went bankrupt. The new service will use two electric boats and start next spring.",
    "Supporters of the plan argued that the ferry is the shortest way between the two halves "
    "of the old town, which are otherwise linked only by a road bridge two kilometres "
    "downstream. For pupils of the riverside school the walk to the bridge takes longer than "
    "the lessons they are late for, one parent told the council.",
    "Opponents questioned the cost. The boats, the landing stages and five years of operation "
    "will cost the city about as much as resurfacing the ring road, and the transport "
    "department’s own estimate puts daily ridership at fewer than a thousand passengers.",
    "The mayor said the numbers missed the point. “A ferry is not a traffic project, it is a "
    "piece of the city people miss,” she said, adding that the council would review the "
    "service after two seasons and end it if it failed to attract riders.",
    "The landing stages will be rebuilt at the original sites, next to the fish market on the "
    "east bank and below the cathedral steps on the west bank. Both will be accessible to "
    "wheelchairs and prams, which the old stages never were.",
    "Tickets will cost the same as a bus fare and will be valid for transfers. Cyclists will "
    "be able to take their bicycles on board free of charge outside the morning rush hour.",
    "Work on the landing stages is scheduled to begin in the autumn, once the summer festival "
    "season on the embankment is over.",
    "The old ferry’s last captain, now retired, has offered to train the new crews. He said "
    "he had kept the logbooks of every crossing since 1984 and would lend them to the city "
    "museum once the service was running again.",
)

DRIFT_AFTER = (
    "Volunteers counted more than four hundred nesting pairs of swifts in the old town this "
    "summer, twice as many as five years ago, after residents installed nest boxes under the "
    "eaves of houses renovated during the last decade.",
    "Swifts spend almost their entire lives in the air and land only to breed. They nest in "
    "gaps under roof tiles and in holes in old walls, and renovation work that seals those "
    "gaps has driven numbers down in cities across Europe.",
    "The local bird society began handing out nest boxes in 2019, together with advice on "
    "where to place them. Most of the boxes went to owners of buildings that had lost their "
    "colonies during renovation, and the first birds moved in within two seasons.",
    "Counting swifts is not easy. The birds enter their nests at high speed, usually in the "
    "evening, and volunteers have to watch the same facade for an hour to be sure a box is "
    "occupied. This year sixty people took part, some of them for the first time.",
    "The society wants the city to require nest boxes on renovated buildings in the historic "
    "centre, as several German cities already do. The council’s planning committee is to "
    "discuss the proposal in the autumn.",
    "Residents who want a box can still apply. The society asks only that the box be placed "
    "at least five metres above the ground, facing away from the midday sun, with a clear "
    "flight path in front of it.",
    "Ornithologists caution that one good year does not make a trend. Swift numbers depend "
    "on the weather during migration and on the supply of insects in summer, and a cold, "
    "wet June can halve the number of chicks that fledge. The society will repeat the count "
    "every summer for at least the next five years before drawing conclusions.",
    "Even so, the volunteers were pleased. “Ten years ago we would stand in the square and "
    "see a dozen birds,” said one of the organisers. “This July we stopped counting the "
    "screaming parties over the cathedral at two hundred.”",
)

SOFT404_REAL = (
    "The regional library has finished digitising its collection of local newspapers, a "
    "project that took eleven years and covers more than a century of daily editions, from "
    "the first issue of the town’s gazette in 1872 to the last printed edition in 1989.",
    "All pages can now be searched by word, date and title from the library’s website. The "
    "scans were made from the original bound volumes where they survived, and from microfilm "
    "where the paper had become too fragile to handle.",
    "Librarians say the most frequent visitors to the archive so far are family historians, "
    "followed by schoolteachers preparing lessons on local history. Several researchers have "
    "already used the collection to study how the town covered the floods of 1926.",
    "The text recognition is not perfect. Old typefaces, faded ink and the narrow columns of "
    "early editions confuse the software, and the library invites readers to correct errors "
    "they find. More than two thousand corrections have been submitted since the spring.",
    "The project was paid for by the regional government and a foundation set up by a former "
    "editor of the gazette. The library plans to add the archives of two smaller weeklies "
    "next year, once the rights to them have been cleared with the publishers’ heirs.",
    "Reading the old pages is a lesson in how a town talked about itself. Early editions "
    "are dense with shipping notices, grain prices and court reports; by the 1930s the "
    "gazette carried photographs, sports results and a weekly column of readers’ letters, "
    "many of them complaints about the state of the roads.",
    "Volunteers from the local history society helped to sort and date loose issues that "
    "had been bound in the wrong order. Some gaps remain: no copies survive of several "
    "weeks in 1944, when the paper was printed on whatever stock could be found, and the "
    "library asks anyone who owns issues from that period to get in touch.",
)
