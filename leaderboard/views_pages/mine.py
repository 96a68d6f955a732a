from leaderboard.page_mine import mine_page

mine_page()
